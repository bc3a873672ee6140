"""The records one stage writes and another reads, each defined once here: the writer and
every reader use the same dataclass, so a renamed key cannot become a silent NaN column. A
reader that finds a key missing or unknown, or a layout version it does not read, fails
naming the file, the key and the fix (rerun the job that writes it); a value a run may
legitimately lack (no test split on a val-only dataset) is an explicit ``None``, never a gap.

- :class:`RunSummary`: ``summary.json`` of each run (training writes it; the runs table,
  status and the claims read it).
- :class:`Progress`: ``<log>.progress.json`` (training replaces it after every epoch; status
  reads it, instead of parsing the log's lines).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar


class RecordError(ValueError):
    """A record file is unreadable, of another layout, or has a key missing or unknown."""


def rerun_hint(path) -> str:
    # Snakemake does not rebuild an output whose consumers are up to date: force its job
    return f"delete it and rerun the job that writes it: snakemake --cores N --forcerun {path}"


def read_record(cls, path):
    """The record of type ``cls`` in ``path`` (JSON), or a RecordError naming what is wrong."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise RecordError(f"{path} is unreadable ({type(exc).__name__}); {rerun_hint(path)}") from None
    return record_from(cls, data, path)


def record_from(cls, data, path):
    """The record of type ``cls`` from parsed JSON ``data`` read from ``path`` (a file, or a
    member of an archive), or a RecordError naming what is wrong."""
    if not isinstance(data, dict):
        raise RecordError(f"{path} is not a {cls.__name__} record (a JSON {type(data).__name__}); {rerun_hint(path)}")
    if data.get("version") != cls.VERSION:
        raise RecordError(
            f"{path} has layout version {data.get('version')!r}, and this code reads {cls.__name__} version "
            f"{cls.VERSION} (written by another version of cnnstudy); {rerun_hint(path)}"
        )
    names = [f.name for f in dataclasses.fields(cls)]
    missing, unknown = [n for n in names if n not in data], sorted(set(data) - set(names))
    if missing or unknown:
        raise RecordError(
            f"{path}: key(s) missing {missing}, unknown {unknown} in a {cls.__name__}; {rerun_hint(path)}"
        )
    return cls(**data)


def write_record(record, path) -> None:
    """``record`` as JSON at ``path``, replaced atomically (a reader never sees half of it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(record), indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunSummary:
    """What one (study, run, seed) did and where; every key always present."""

    VERSION: ClassVar[int] = 2

    study: str
    model: str
    seed: int
    status: str  # completed | diverged
    arch: str
    dataset: str
    epochs_run: int
    best_epoch: int
    best_val_accuracy: float | None  # None: diverged before its first epoch ended
    final_val_accuracy: float | None
    test_split: bool
    test_accuracy: float | None  # ours: the best-val epoch's weights on test; None without a test split
    final_test_accuracy: float | None  # the reports' metrics: the last epoch's test accuracy ...
    best_test_accuracy: float | None  # ... and the best epoch's, chosen on test itself
    chance_level: float
    parameters: int
    trainable_parameters: int
    seconds: float
    images_per_second: float | None
    device: str
    device_name: str
    capability: str | None
    cuda_build: str | None
    precision: str
    tf32: bool
    config_hash: str
    code_sha256: str
    data_sha256: dict
    weights_sha256: str | None
    versions: dict
    config: dict
    version: int = VERSION


@dataclass(frozen=True)
class Progress:
    """Where a training run stands after its last finished epoch."""

    VERSION: ClassVar[int] = 1

    epoch: int
    epochs: int
    step: int
    val_accuracy: float
    epoch_seconds: float
    eta_seconds: float
    written_at: float = field(default_factory=time.time)
    version: int = VERSION


# ----------------------------------------------------------------------------- the claims' tables
@dataclass(frozen=True)
class ClaimRow:
    """One claim judged (``tables/claims.csv``)."""

    claim: str
    report: str
    study: str  # "" for a claim about the hand-written convolutions
    kind: str
    quote: str
    checked: str
    verdict: str  # reproduced | contradicted | inconclusive | not run
    set_up: str  # the report's | our reading
    evidence: str
    n: int
    collapsed: str  # "" or "1 of 3 seeds of ... collapsed to chance (seed 1)"
    our_metric: str
    reported_metric: str
    reading: str  # our reading of the set-up the report leaves open ("" where it states it)
    robustness: str  # robust | fragile (to leaving one seed out) | "" (not a conclusive verdict of tests)
    flipped_by: str  # "seed 3 (without it: inconclusive)"; "" where robust


@dataclass(frozen=True)
class ClaimTestRow:
    """One paired test a claim rests on (``tables/claim_tests.csv``)."""

    claim: str
    report: str
    study: str
    label: str
    unit: str
    direction: str
    null: float
    margin: float
    mean: float
    ci_low: float
    ci_high: float
    n: int
    p: float
    p_holm: float
    outcome: str  # supports | contradicts | inconclusive | no data
    seeds_needed: float
    verdict: str


@dataclass(frozen=True)
class NumberRow:
    """A report's number beside ours on the matching record (``tables/vs_reported.csv``);
    NaN where n < 2 gives no interval."""

    report: str
    study: str
    model: str
    claim: str
    reported: str
    decimals: int
    reported_metric: str
    matched_metric: str
    our_metric: str
    ours_mean: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    pi_low_rounded: float
    pi_high_rounded: float
    n: int
    diverged: int
    reported_in_prediction_interval: str  # yes | no | no verdict


# ----------------------------------------------------------------------------- against a reference
@dataclass(frozen=True)
class VerdictChangeRow:
    """A claim whose verdict differs from the reference's, or that the two judged on other data
    or code (``tables/reference_verdicts.csv``)."""

    claim: str
    report: str
    study: str
    reference: str  # the reference's verdict, or "absent"
    ours: str
    changed: bool
    basis: str  # "" where both judged it on the same data and training code, else what differs


@dataclass(frozen=True)
class NumberChangeRow:
    """One run's headline metric in the reference and in ours (``tables/reference_numbers.csv``):
    Welch's t over the two runs' seeds, Holm-adjusted over the runs compared."""

    study: str
    model: str
    metric: str
    reference_mean: float
    ours_mean: float
    difference: float
    reference_n: int
    ours_n: int
    p: float  # NaN where a side has fewer than 2 seeds
    p_holm: float
    beyond_noise: bool  # p_holm < 0.05


@dataclass(frozen=True)
class ProvenanceRow:
    """One line of the two runs' provenance side by side (``tables/reference_provenance.csv``)."""

    field: str
    reference: str
    ours: str


# ----------------------------------------------------------------------------- the reproduction summary
@dataclass(frozen=True)
class SetupRow:
    """One aspect of a study's set-up: the report's beside ours (``tables/setup.csv``)."""

    report: str
    study: str
    aspect: str  # dataset | image_size | splits | epochs | batch_size | optimizer | metric
    reported: str
    ours: str
    deviation: bool
    why: str  # "" where ours follows the report


@dataclass(frozen=True)
class SourceRow:
    """One download: where from, which version, its checksum and licence (``tables/sources.csv``)."""

    download: str
    url: str
    checksum: str
    publisher: str
    version: str
    licence: str


def columns(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def frame(cls, rows):
    """The rows (records of ``cls``) as a table with exactly its columns, even with no rows."""
    import pandas as pd

    return pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=columns(cls))


# Columns of free text: read as text ("" stays "", a study named "1" stays "1")
TEXT_COLUMNS = ("study", "collapsed", "reading", "reported_metric", "set_up", "robustness", "flipped_by", "basis",
                "reference", "ours", "why")  # fmt: skip


def read_frame(cls, path, name=None):
    """A table written by :func:`frame`, or a RecordError naming the file (``name``, where
    ``path`` is an open member of an archive) and the columns that are missing or unknown (text
    stays text: class and claim names are never numbers)."""
    import pandas as pd

    source, path = path, name or path
    text = {c: str for c in TEXT_COLUMNS}
    table = pd.read_csv(source, keep_default_na=False, na_values=[""], dtype=text)
    missing, unknown = [c for c in columns(cls) if c not in table], sorted(set(table) - set(columns(cls)))
    if missing or unknown:
        raise RecordError(f"{path}: column(s) missing {missing}, unknown {unknown} in a table of {cls.__name__}; "
                          f"{rerun_hint(path)}")  # fmt: skip
    for column in TEXT_COLUMNS:
        if column in table:
            table[column] = table[column].fillna("")
    return table
