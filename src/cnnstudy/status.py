"""Where a study stands while it runs: per run and seed, done, training (epoch e of E, the last
validation accuracy, its time left from its own epoch times), waiting, stopped (SIGTERM:
resumes when rerun), stalled (no progress for a while: its process is gone), diverged or
failed (its log and last error line); per study and in all, the time left.

It reads only the files the pipeline writes (``summary.json``, the training logs, the grid
projection), so it works the same while Snakemake runs locally or on SLURM, from a login node.

    python -m cnnstudy status [--configfile config/config.yaml ...] [--watch [SECONDS]] [--all]
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from cnnstudy import config as study_config
from cnnstudy import paths
from cnnstudy.judging.tables import collapsed as seed_collapsed
from cnnstudy.records import Progress, RecordError, RunSummary, read_record, rerun_hint

STATES = ("done", "collapsed", "training", "waiting", "stopped", "stalled", "diverged", "failed")
FINISHED = ("done", "collapsed", "diverged", "failed")  # nothing left to compute
START = re.compile(r"^\[[\d:]+\] device \S+ \(")  # the first line of each attempt (a rerun appends)
STOP = re.compile(r"\] (SIG(TERM|INT) .*exiting|STOPPED: )")  # the trainer's checkpointed exit, or a script's


@dataclass
class RunStatus:
    study: str
    run: str
    seed: int
    state: str = "waiting"
    epoch: int | None = None
    epochs: int | None = None
    val_accuracy: float | None = None
    seconds_left: float | None = None  # None: not known
    epoch_seconds: float | None = None  # its last epoch's, from its log
    detail: str = ""


@dataclass
class Results:
    """The pipeline's files, as this command reads them."""

    root: Path
    now: float = field(default_factory=time.time)

    def run_dir(self, study: str, run: str, seed: int) -> Path:
        return paths.run_dir(study, run, seed, self.root)

    def summary(self, study: str, run: str, seed: int) -> RunSummary | None:
        """The run's summary, None where there is none yet; an unreadable one raises RecordError."""
        try:
            return read_record(RunSummary, self.run_dir(study, run, seed) / "summary.json")
        except FileNotFoundError:
            return None

    def log(self, study: str, run: str, seed: int) -> Path:
        return paths.train_log(study, run, seed, self.root)

    def projected_seconds(self) -> dict:
        """(study, run) -> seconds per seed, from the grid projection, where it has run."""
        try:
            with open(self.root / "performance" / "projection.csv") as f:
                return {(r["study"], r["run"]): float(r["seconds_per_seed"]) for r in csv.DictReader(f)}
        except (OSError, KeyError, ValueError):
            return {}


def last_attempt(log: Path) -> list[str]:
    """The lines of the log's last attempt (a rerun appends to the same log)."""
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if START.match(line)]
    return lines[starts[-1] :] if starts else lines


def _last_epoch(log: Path) -> Progress | None:
    """The Progress record the trainer replaces after every epoch (None before the first)."""
    try:
        return read_record(Progress, paths.progress_of(log))
    except (FileNotFoundError, RecordError):
        return None


def _from_log(s: RunStatus, log: Path, now: float) -> RunStatus:
    lines = last_attempt(log)
    progress = _last_epoch(log)
    if progress:
        s.epoch, s.epochs, s.val_accuracy = progress.epoch, progress.epochs, progress.val_accuracy
        s.epoch_seconds = progress.epoch_seconds
        s.seconds_left = max(0.0, progress.eta_seconds - (now - progress.written_at))
    errors = [line for line in lines if "] ERROR: " in line]
    stops = [line.split("] ", 1)[1] for line in lines[-3:] if STOP.search(line)]
    if errors:
        s.state, s.detail, s.seconds_left = "failed", f"{log}: {errors[-1].split('] ERROR: ', 1)[1]}", None
    elif stops:
        s.state, s.detail = "stopped", f"{stops[0]}; resumes where it stopped when rerun"
    else:
        quiet = now - log.stat().st_mtime
        per_epoch = progress.epoch_seconds if progress else 0.0
        stalled = quiet > max(600.0, 3 * per_epoch)
        s.state = "stalled" if stalled else "training"
        s.detail = f"no progress for {quiet / 60:.0f} min: its process is gone? a rerun resumes" if stalled else ""
    return s


def _finished(s: RunStatus, summary: RunSummary, chance: ChanceRule) -> RunStatus:
    s.state = "done" if summary.status == "completed" else "diverged"
    s.epoch = s.epochs = summary.epochs_run
    s.val_accuracy, s.seconds_left = summary.final_val_accuracy, 0.0
    if s.state == "done" and chance.collapsed(s, summary):
        s.state = "collapsed"
        s.detail = f"ended at chance ({s.val_accuracy:.3f}, chance {summary.chance_level:.3f}): judged with and without"
    return s


@dataclass(frozen=True)
class ChanceRule:
    """Which finished seeds count as collapsed (config keys collapse_margin and the chance claims)."""

    expected: frozenset = frozenset()  # (study, run) a chance claim names
    margin: float = 0.02

    def collapsed(self, s: RunStatus, summary: RunSummary) -> bool:
        if (s.study, s.run) in self.expected:
            return False
        return seed_collapsed(summary.final_val_accuracy, summary.chance_level, self.margin)


def run_status(results: Results, study: str, run: str, seed: int, chance: ChanceRule = ChanceRule()) -> RunStatus:
    s = RunStatus(study, run, seed)
    path = results.run_dir(study, run, seed) / "summary.json"
    try:
        summary = results.summary(study, run, seed)
    except RecordError as exc:
        s.state, s.detail = "failed", str(exc)  # names the file, what is wrong and the rerun
        return s
    if summary is None and (path.parent / "metrics.csv").exists():
        s.state, s.detail = "failed", f"{path} is missing though the run wrote its other outputs: {rerun_hint(path)}"
        return s
    if summary:
        return _finished(s, summary, chance)
    log = results.log(study, run, seed)
    return _from_log(s, log, results.now) if log.exists() else s


def _estimate(rows: list[RunStatus], results: Results) -> None:
    """Time left of runs not started (or stopped, or not through an epoch yet): their own run's
    finished seeds' time, else its seeds' epoch times, else the grid projection; None where
    nothing tells."""
    projected = results.projected_seconds()
    for s in rows:
        if s.state not in ("waiting", "stopped", "stalled", "training") or s.seconds_left is not None:
            continue
        same = [o for o in rows if (o.study, o.run) == (s.study, s.run)]
        done = [results.summary(o.study, o.run, o.seed) for o in same if o.state in ("done", "collapsed")]
        seconds = [d.seconds for d in done if d]
        per_epoch = [o.epoch_seconds for o in same if o.epoch_seconds]
        if seconds:
            s.seconds_left = sum(seconds) / len(seconds)
        elif per_epoch:
            s.seconds_left = s.epochs * sum(per_epoch) / len(per_epoch)
        else:
            s.seconds_left = projected.get((s.study, s.run))


def collect(config: dict, results_dir: str | Path = study_config.RESULTS) -> list[RunStatus]:
    """Every selected run of ``config`` and seed, as the pipeline's files show it now."""
    results = Results(Path(results_dir))
    chance = ChanceRule(frozenset(study_config.expected_at_chance(config)), config["collapse_margin"])
    rows = [run_status(results, study, run, seed, chance) for study, run, seed in study_config.runs(config)]
    for s in rows:  # the planned epochs (a diverged run stopped early; a log may say nothing yet)
        s.epochs = study_config.run_config(config, s.study, s.run, s.seed).epochs
    _estimate(rows, results)
    return rows


def totals(rows: list[RunStatus]) -> dict:
    """Per study, and for all (key ``None``): runs in each state and the seconds left."""
    out = {}
    for key in [*dict.fromkeys(r.study for r in rows), None]:
        of = [r for r in rows if key is None or r.study == key]
        left = [r.seconds_left for r in of if r.state not in FINISHED]
        out[key] = {
            **{state: sum(r.state == state for r in of) for state in STATES},
            "runs": len(of),
            "seconds_left": sum(x for x in left if x is not None),
            "unknown": sum(x is None for x in left),
        }
    return out


def duration(seconds: float) -> str:
    """8s, 3m20s, 1h05m."""
    seconds = int(round(seconds))
    h, m = divmod(seconds // 60, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{seconds % 60:02d}s" if m else f"{seconds}s"
