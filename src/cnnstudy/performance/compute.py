"""The compute a study used, disclosed (a reproducibility checklist item of NeurIPS and the
MLRC): per run and seed its device, wall and CPU time, peak memory, attempts and status, and
per study and in all the device-hours, diverged and retried runs included. Nothing is timed
twice: the numbers are those Snakemake's ``benchmark:`` files and the run summaries hold,
and the attempts are the training log's (each attempt appends to it).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass

import pandas as pd

from cnnstudy.records import RunSummary

ALL = "(all)"  # the study and run of the totals' rows: no study or run can be named so ([A-Za-z0-9_]+)


@dataclass(frozen=True)
class ComputeRow:
    """One (study, run, seed) training job, or a study's or the whole study's total."""

    study: str
    model: str
    seed: str  # "" on totals
    status: str
    device: str
    device_name: str
    wall_seconds: float  # the job's, as Snakemake timed it (every attempt's last; retries add below)
    cpu_seconds: float
    peak_rss_mb: float
    attempts: int
    device_hours: float  # wall time on the device, in hours


def benchmark_of(path) -> dict:
    """The last line of a Snakemake benchmark file: wall seconds, CPU seconds, peak RSS (MB)."""
    table = pd.read_csv(path, sep="\t")
    missing = sorted({"s", "cpu_time", "max_rss"} - set(table.columns))
    if missing or table.empty:
        raise ValueError(f"{path}: not a Snakemake benchmark file (columns missing: {missing}, rows: {len(table)})")
    last = table.iloc[-1]
    return {"wall_seconds": float(last.s), "cpu_seconds": float(last.cpu_time), "peak_rss_mb": float(last.max_rss)}


def attempts_of(log_text: str, start_marker: str = "] device ") -> int:
    """Attempts of a training job: each starts its log lines with the device it runs on."""
    return max(1, sum(1 for line in log_text.splitlines() if start_marker in line and line.startswith("[")))


def job_row(summary: RunSummary, benchmark: dict, attempts: int) -> ComputeRow:
    return ComputeRow(study=summary.study, model=summary.model, seed=str(summary.seed), status=summary.status,
                      device=summary.device, device_name=summary.device_name, attempts=attempts,
                      device_hours=benchmark["wall_seconds"] / 3600, **benchmark)  # fmt: skip


def _total(rows: pd.DataFrame, study: str) -> ComputeRow:
    devices = ", ".join(sorted(set(rows.device)))
    names = ", ".join(sorted(set(rows.device_name)))
    return ComputeRow(study=study, model=ALL, seed="", status=f"{len(rows)} jobs", device=devices, device_name=names,
                      wall_seconds=rows.wall_seconds.sum(), cpu_seconds=rows.cpu_seconds.sum(),
                      peak_rss_mb=rows.peak_rss_mb.max(), attempts=int(rows.attempts.sum()),
                      device_hours=rows.device_hours.sum())  # fmt: skip


def compute_table(rows: list[ComputeRow]) -> pd.DataFrame:
    """Every job's row, then each study's total, then the whole study's (study ``all``)."""
    jobs = pd.DataFrame(rows, columns=list(ComputeRow.__dataclass_fields__))
    if jobs.empty:
        return jobs
    totals = [_total(g, study) for study, g in jobs.groupby("study", sort=False)] + [_total(jobs, ALL)]
    return pd.concat([jobs, pd.DataFrame(totals)], ignore_index=True)


@dataclass(frozen=True)
class MeasuredRequest:
    """How a training job's request follows from its run's measurement in the grid projection
    (``column`` of projection.csv, times ``scale`` into the request's unit): times ``margin``,
    at least ``floor`` and at most ``cap``; the cap alone where nothing was measured. Time
    (config keys resources.train.runtime, runtime_margin, runtime_floor): the run's seconds per
    seed, in minutes. Memory (mem_mb, mem_margin, mem_floor): the run's measured megabytes
    (process, dataset and the step's tensors)."""

    column: str
    scale: float
    cap: int
    margin: float
    floor: int

    def request(self, projection_csv, study: str, run: str) -> int:
        try:
            with open(projection_csv) as f:
                rows = {(r["study"], r["run"]): float(r[self.column]) for r in csv.DictReader(f)}
        except (OSError, KeyError, ValueError):
            return self.cap
        measured = rows.get((study, run))
        if measured is None or not math.isfinite(measured):
            return self.cap
        return int(min(self.cap, max(self.floor, math.ceil(measured * self.scale * self.margin))))


def runtime_request(cap: int, margin: float, floor: int) -> MeasuredRequest:
    return MeasuredRequest("seconds_per_seed", 1 / 60, cap, margin, floor)


def memory_request(cap: int, margin: float, floor: int) -> MeasuredRequest:
    return MeasuredRequest("memory_mb", 1.0, cap, margin, floor)
