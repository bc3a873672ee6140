"""Tidy tables over all runs, and the config's questions answered from them honestly (the
reports' own claims are judged in :mod:`cnnstudy.judging.claims`).

Every answer is a paired difference over seeds (runs of one study share their seeds: same
data split, same initialization seed) with its mean, a 95 % t interval (n - 1 degrees of
freedom) and a verdict read off the interval: where it covers zero, or n < 2 gives none,
the answer is "inconclusive". The metric is named everywhere: test accuracy of the
best-validation epoch where the dataset has a test split, else the last epoch's validation
accuracy: an epoch is never chosen on the split it is reported on. Diverged runs are
counted and left out of means, never averaged in as zeros.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cnnstudy.records import RunSummary, read_record

# The runs table: every key of the run summary but its nested and provenance parts (in the
# summaries themselves), and each seed's collapsed mark. One definition: records.RunSummary.
SUMMARY_ONLY = ("device_name", "capability", "cuda_build", "tf32", "code_sha256", "data_sha256", "weights_sha256",
                "versions", "config", "version")  # fmt: skip
RUN_COLUMNS = [f.name for f in dataclasses.fields(RunSummary) if f.name not in SUMMARY_ONLY] + ["collapsed"]
ANSWER_COLUMNS = [
    "study",
    "question",
    "metric",
    "answer",
    "a",
    "b",
    "mean_a",
    "mean_b",
    "mean_difference",
    "ci_low",
    "ci_high",
    "n",
    "verdict",
    "note",
]
LEVEL = 0.95


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


@dataclass(frozen=True)
class Interval:
    """Mean of n values with its t interval; low/high/sd are NaN where n < 2."""

    mean: float
    low: float
    high: float
    sd: float
    n: int

    def verdict(self) -> str:
        if self.n < 2 or not self.low > 0 and not self.high < 0:
            return "inconclusive"
        return "better" if self.low > 0 else "worse"


def prediction_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Where one more run would fall: mean +- t(n-1) * sd * sqrt(1 + 1/n) (NaN where n < 2).
    A report's single run is compared with this, not with the interval of our mean."""
    iv = mean_interval(values, level)
    if iv.n < 2:
        return np.nan, np.nan
    half = float(stats.t.ppf(0.5 + level / 2, iv.n - 1)) * iv.sd * np.sqrt(1 + 1 / iv.n)
    return iv.mean - half, iv.mean + half


LOGIT_CLIP = 1e-3  # a perfect (or zero) accuracy has no logit: clipped this far inside [0, 1]


def bounded_prediction_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Where one more run's accuracy would fall, inside [0, 1]: the t prediction interval on
    the logit scale, back-transformed (near 0 or 1 accuracies are skewed, and a normal interval
    there leaves the range; a collapsed seed makes it span the range instead of the reals).
    NaN where n < 2."""
    from scipy.special import expit, logit

    v = np.asarray(values, dtype=float)
    v = np.clip(v[~np.isnan(v)], LOGIT_CLIP, 1 - LOGIT_CLIP)
    low, high = prediction_interval(logit(v), level)
    return (float(expit(low)), float(expit(high))) if np.isfinite(low) else (np.nan, np.nan)


def decimals_of(value: float) -> int:
    """The decimals a report wrote a number with, from its shortest form (0.605 -> 3)."""
    text = f"{float(value)!r}"
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def outward(low: float, high: float, decimals: int) -> tuple[float, float]:
    """``[low, high]`` rounded outward to ``decimals``: a report's number written to that
    precision is compared with the interval at that precision."""
    scale = 10**decimals
    return math.floor(low * scale + 1e-9) / scale, math.ceil(high * scale - 1e-9) / scale


def mean_interval(values, level: float = LEVEL) -> Interval:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, np.nan, 0)
    if n < 2:
        return Interval(float(v.mean()), np.nan, np.nan, np.nan, 1)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / np.sqrt(n)
    return Interval(float(v.mean()), float(v.mean()) - half, float(v.mean()) + half, sd, n)


def paired(values: pd.DataFrame, a: str, b: str) -> Interval:
    """a - b over the seeds both have (``values``: index seed, one column per run, accuracies),
    its interval intersected with [-1, 1], where a difference of two fractions lies."""
    if a not in values or b not in values:
        return mean_interval([])
    iv = mean_interval((values[a] - values[b]).dropna().values)
    return dataclasses.replace(iv, low=max(iv.low, -1.0), high=min(iv.high, 1.0)) if iv.n >= 2 else iv


def _note(iv: Interval) -> str:
    if iv.n == 0:
        return "no seed where both ran to completion"
    return f"n = {iv.n} < 2: no interval" if iv.n < 2 else f"95% t interval, n = {iv.n} paired seeds"


@dataclass(frozen=True)
class Answer:
    """One answer: which runs (or classes) ``a`` and ``b`` it compares, and what it says."""

    study: str
    question: str
    metric: str
    answer: str
    a: str
    b: str = ""
    verdict: str = ""  # empty: read off the interval (better / worse / inconclusive)
    note: str = ""


def _row(answer: Answer, values: pd.DataFrame, iv: Interval) -> dict:
    """The answer with the means of a and b over ``values`` and the interval of their difference."""
    mean = lambda r: float(values[r].mean()) if r in values else np.nan  # noqa: E731
    row = dataclasses.asdict(answer)
    row.update(mean_a=mean(answer.a), mean_b=mean(answer.b), mean_difference=iv.mean, ci_low=iv.low, ci_high=iv.high)
    row.update(n=iv.n, verdict=answer.verdict or iv.verdict(), note="; ".join(filter(None, [_note(iv), answer.note])))
    return row


def _diverged_note(runs: pd.DataFrame, models) -> str:
    div = runs[(runs.status == "diverged") & runs.model.isin(models)]
    if div.empty:
        return ""
    counts = div.groupby("model").seed.count()
    return "diverged and left out: " + ", ".join(f"{m} ({c} seed{'s' * (c > 1)})" for m, c in counts.items())


def ranking(values: pd.DataFrame) -> tuple[list, list]:
    """Runs by mean, and between neighbours '>' where the paired interval excludes zero, else '≈'."""
    order = list(values.mean().sort_values(ascending=False).index)
    links = [">" if paired(values, hi, lo).low > 0 else "≈" for hi, lo in zip(order, order[1:])]
    return order, links


def _ranking_rows(study, metric, values, runs) -> list:
    order, links = ranking(values)
    if not order:
        return []
    note = _diverged_note(runs, list(runs.model.unique()))
    if len(order) == 1:
        answer = Answer(study, "which model is best?", metric, order[0], order[0], verdict="inconclusive", note=note)
        return [_row(answer, values, mean_interval([]))]
    first_gap = next((i for i, s in enumerate(links) if s == ">"), len(links))
    best = " or ".join(order[: 1 + first_gap])  # every run tied with the top one
    chain = order[0] + "".join(f" {link} {m}" for link, m in zip(links, order[1:]))
    strict = [s == ">" for s in links]
    rank_verdict = "clear" if all(strict) else "partly tied" if any(strict) else "inconclusive"
    best_answer = Answer(study, "which model is best?", metric, best, order[0], order[1],
                         "clear" if strict[0] else "inconclusive", note)  # fmt: skip
    rank_answer = Answer(study, "ranking ('≈': tied within the interval)", metric, chain, order[0], order[-1],
                         rank_verdict, note)  # fmt: skip
    return [
        _row(best_answer, values, paired(values, order[0], order[1])),
        _row(rank_answer, values, paired(values, order[0], order[-1])),
    ]


def _hardest_class_rows(study, confusion: pd.DataFrame, split: str) -> list:
    """Per model: the class with the lowest mean recall, and its gap to the next hardest."""
    pc = per_class_accuracy(confusion, split)
    rows = []
    for model, g in pc.groupby("model"):
        recall = g.pivot_table(index="seed", columns="class", values="accuracy")
        order = list(recall.mean().sort_values().index)
        if len(order) < 2:
            continue
        gap = paired(recall, order[1], order[0])
        answer = f"{order[0]} (recall {recall[order[0]].mean():.3f}; next {order[1]} {recall[order[1]].mean():.3f})"
        answer = Answer(study, f"which class is hardest for {model}?", f"{split} recall", answer, order[0], order[1],
                      "clear" if gap.verdict() == "better" else "inconclusive",
                      "mean_difference: recall of b minus a")  # fmt: skip
        rows.append(_row(answer, recall, gap))
    return rows


def answers(runs: pd.DataFrame, confusion: pd.DataFrame, studies: dict) -> pd.DataFrame:
    """Per study: best model and ranking, each configured comparison, hardest class per model."""
    rows = []
    for study, spec in studies.items():
        r = runs[runs.study == study]
        if r.empty:
            continue
        metric = study_metric(r)
        ok = r[r.status != "diverged"]
        values = ok.pivot_table(index="seed", columns="model", values=metric.column)
        rows += _ranking_rows(study, metric.label, values, r)
        for comp in spec.get("comparisons", []):
            a, b = comp["a"], comp["b"]
            iv = paired(values, a, b)
            answer = {"better": f"{a} is better", "worse": f"{a} is worse"}.get(iv.verdict(), "inconclusive")
            answer = Answer(study, comp["question"], metric.label, answer, a, b, note=_diverged_note(r, [a, b]))
            rows.append(_row(answer, values, iv))
        split = metric.split
        completed = set(zip(ok.model, ok.seed))
        c = confusion[confusion.study == study] if len(confusion) else confusion
        c = c[[key in completed for key in zip(c.model, c.seed)]] if len(c) else c
        if len(c):
            rows += _hardest_class_rows(study, c, split)
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS)
