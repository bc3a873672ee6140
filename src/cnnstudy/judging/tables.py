"""Tidy tables over all runs: one row per run from the run summaries, the metric each
study is read on, per-class recall; and the readers of the tables this stage writes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from cnnstudy.records import RunSummary, read_record

# The runs table: every key of the run summary but its nested and provenance parts (in the
# summaries themselves), and each seed's collapsed mark. One definition: records.RunSummary.
SUMMARY_ONLY = ("device_name", "capability", "cuda_build", "tf32", "code_sha256", "data_sha256", "weights_sha256",
                "versions", "config", "version")  # fmt: skip


RUN_COLUMNS = [f.name for f in dataclasses.fields(RunSummary) if f.name not in SUMMARY_ONLY] + ["collapsed"]


@dataclass(frozen=True)
class Metric:
    """A study's headline metric: its runs-table column, its name, and the split it is read on."""

    column: str
    label: str
    split: str


# Never chosen and reported on the same split: where there is a test split the epoch is chosen
# on val and scored on test; else the last epoch's val accuracy (no epoch chosen on val).
TEST_METRIC = Metric("test_accuracy", "test accuracy (best-val epoch)", "test")


VAL_METRIC = Metric("final_val_accuracy", "val accuracy of the last epoch (no epoch chosen on val)", "val")


# Every accuracy a run records, by the name a number claim gives in its ``metric`` key (the
# one that measures what the report measured; the schema's enum lists the same names).
RECORDED = {
    "test_of_best_val": TEST_METRIC,
    "last_val": VAL_METRIC,
    "last_test": Metric("final_test_accuracy", "test accuracy of the last epoch", "test"),
    "best_val": Metric(
        "best_val_accuracy", "val accuracy of the best-val epoch (chosen on the split it reports)", "val"
    ),
    "best_test": Metric(
        "best_test_accuracy", "test accuracy of the best-test epoch (chosen on the split it reports)", "test"
    ),  # fmt: skip
}


def runs_table(summary_files, expected_at_chance=frozenset(), collapse_margin: float = 0.02) -> pd.DataFrame:
    """One row per run from the runs' ``summary.json`` records (a key missing or unknown fails
    naming the file), each completed seed marked ``collapsed`` where it ended at chance in a
    run not expected to (see :func:`collapsed`)."""
    rows = [dataclasses.asdict(read_record(RunSummary, f)) for f in summary_files]
    df = pd.DataFrame(rows, columns=[f.name for f in dataclasses.fields(RunSummary)])
    expected = [(s, m) in expected_at_chance for s, m in zip(df.study, df.model)]
    df["collapsed"] = [
        status == "completed" and not exp and collapsed(acc, chance, collapse_margin)
        for status, exp, acc, chance in zip(df.status, expected, df.final_val_accuracy, df.chance_level)
    ]
    return df[RUN_COLUMNS].sort_values(["study", "model", "seed"]).reset_index(drop=True)


def collapsed(final_val_accuracy, chance_level, margin: float) -> bool:
    """A seed that trained to the end but whose last epoch's val accuracy is at most ``margin``
    above chance (config key collapse_margin): it learned nothing. Only for runs no claim
    expects at chance; judged with and without it (:mod:`cnnstudy.judging.claims`)."""
    return bool(pd.notna(final_val_accuracy) and final_val_accuracy <= chance_level + margin)


def read_table(path) -> pd.DataFrame:
    """A table written by this module; class names stay strings ("0".."9" are MNIST's names)."""
    return pd.read_csv(path, dtype={"true": str, "predicted": str, "class": str})


def concat_csv(files) -> pd.DataFrame:
    """The files' rows as one table; with no rows (every run diverged before a record), still
    their columns, so that every reader finds the table it expects."""
    frames = [read_table(f) for f in files]
    rows = [f for f in frames if len(f)]
    if rows:
        return pd.concat(rows, ignore_index=True)
    return frames[0] if frames else pd.DataFrame()


def study_metric(runs: pd.DataFrame) -> Metric:
    """The headline metric of a study's runs."""
    has_test = runs.test_split.fillna(False).astype(bool)
    return TEST_METRIC if len(runs) and has_test.all() else VAL_METRIC


def per_class_accuracy(confusion: pd.DataFrame, split: str = "val") -> pd.DataFrame:
    """Recall per (study, model, seed, class) from the best epoch's confusion matrices."""
    c = confusion[confusion.split == split]
    total = c.groupby(["study", "model", "seed", "true"])["count"].sum()
    hit = c[c.true == c.predicted].groupby(["study", "model", "seed", "true"])["count"].sum()
    hit = hit.reindex(total.index, fill_value=0)
    return (hit / total).rename("accuracy").reset_index().rename(columns={"true": "class"})


def of_completed(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` (confusion counts, gradient norms) from the (study, model, seed)
    runs of ``runs`` that did not diverge: a diverged run's records are left out."""
    if table.empty:
        return table
    ok = runs[runs.status != "diverged"]
    completed = set(zip(ok.study, ok.model, ok.seed))
    return table[[key in completed for key in zip(table.study, table.model, table.seed)]]


def class_recalls(confusion: pd.DataFrame, split: str) -> dict[str, pd.DataFrame]:
    """Per run (``model``): its recall per seed and class (index seed, a column per class), the
    one table both the hardest-class question and the hardest-class claims are read from."""
    pc = per_class_accuracy(confusion, split)
    return {model: g.pivot_table(index="seed", columns="class", values="accuracy") for model, g in pc.groupby("model")}
