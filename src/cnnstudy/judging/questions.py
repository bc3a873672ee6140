"""The config's questions answered from them honestly (the
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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnstudy.judging.statistics import Interval, mean_interval, paired, seed_table
from cnnstudy.judging.tables import class_recalls, of_completed, study_metric
from cnnstudy.judging.verdicts import Comparison, Ranking

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


@dataclass(frozen=True)
class Answer:
    """One answer: which runs (or classes) ``a`` and ``b`` it compares, and what it says."""

    study: str
    question: str
    metric: str
    answer: str
    a: str
    b: str = ""
    verdict: Ranking | None = None  # None: read off the interval (a Comparison)
    note: str = ""


def answers(runs: pd.DataFrame, confusion: pd.DataFrame, studies: dict) -> pd.DataFrame:
    """Per study: best model and ranking, each configured comparison, hardest class per model."""
    rows = []
    for study, spec in studies.items():
        r = runs[runs.study == study]
        if r.empty:
            continue
        metric = study_metric(r)
        values = seed_table(r, metric.column).dropna(axis=1, how="all")  # a run without the metric: no answer
        rows += _ranking_rows(study, metric.label, values, r)
        for comp in spec.get("comparisons", []):
            a, b = comp["a"], comp["b"]
            iv = paired(values, a, b)
            answer = {Comparison.BETTER: f"{a} is better", Comparison.WORSE: f"{a} is worse"}.get(
                iv.verdict(), "inconclusive"
            )
            answer = Answer(study, comp["question"], metric.label, answer, a, b, note=_diverged_note(r, [a, b]))
            rows.append(_row(answer, values, iv))
        c = of_completed(confusion, r)
        if len(c):
            rows += _hardest_class_rows(study, c, metric.split)
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS)


def _ranking_rows(study, metric, values, runs) -> list:
    order, links = ranking(values)
    if not order:
        return []
    note = _diverged_note(runs, list(runs.model.unique()))
    if len(order) == 1:
        answer = Answer(
            study, "which model is best?", metric, order[0], order[0], verdict=Ranking.INCONCLUSIVE, note=note
        )
        return [_row(answer, values, mean_interval([]))]
    first_gap = next((i for i, s in enumerate(links) if s == ">"), len(links))
    best = " or ".join(order[: 1 + first_gap])  # every run tied with the top one
    chain = order[0] + "".join(f" {link} {m}" for link, m in zip(links, order[1:]))
    strict = [s == ">" for s in links]
    rank_verdict = Ranking.CLEAR if all(strict) else Ranking.PARTLY_TIED if any(strict) else Ranking.INCONCLUSIVE
    best_answer = Answer(study, "which model is best?", metric, best, order[0], order[1],
                         Ranking.CLEAR if strict[0] else Ranking.INCONCLUSIVE, note)  # fmt: skip
    rank_answer = Answer(study, "ranking ('≈': tied within the interval)", metric, chain, order[0], order[-1],
                         rank_verdict, note)  # fmt: skip
    return [
        _row(best_answer, values, paired(values, order[0], order[1])),
        _row(rank_answer, values, paired(values, order[0], order[-1])),
    ]


def ranking(values: pd.DataFrame) -> tuple[list, list]:
    """Runs by mean, and between neighbours '>' where the paired interval excludes zero, else '≈'."""
    order = list(values.mean().sort_values(ascending=False).index)
    links = [">" if paired(values, hi, lo).low > 0 else "≈" for hi, lo in zip(order, order[1:])]
    return order, links


def _hardest_class_rows(study, confusion: pd.DataFrame, split: str) -> list:
    """Per model: the class with the lowest mean recall, and its gap to the next hardest."""
    rows = []
    for model, recall in class_recalls(confusion, split).items():
        order = list(recall.mean().sort_values().index)
        if len(order) < 2:
            continue
        gap = paired(recall, order[1], order[0])
        answer = f"{order[0]} (recall {recall[order[0]].mean():.3f}; next {order[1]} {recall[order[1]].mean():.3f})"
        answer = Answer(study, f"which class is hardest for {model}?", f"{split} recall", answer, order[0], order[1],
                      Ranking.CLEAR if gap.verdict() is Comparison.BETTER else Ranking.INCONCLUSIVE,
                      "mean_difference: recall of b minus a")  # fmt: skip
        rows.append(_row(answer, recall, gap))
    return rows


def _row(answer: Answer, values: pd.DataFrame, iv: Interval) -> dict:
    """The answer with the means of a and b over ``values`` and the interval of their difference."""
    mean = lambda r: float(values[r].mean()) if r in values else np.nan  # noqa: E731
    row = dataclasses.asdict(answer)
    row.update(mean_a=mean(answer.a), mean_b=mean(answer.b), mean_difference=iv.mean, ci_low=iv.low, ci_high=iv.high)
    row.update(
        n=iv.n, verdict=(answer.verdict or iv.verdict()).value, note="; ".join(filter(None, [_note(iv), answer.note]))
    )
    return row


def _note(iv: Interval) -> str:
    if iv.n == 0:
        return "no seed where both ran to completion"
    return f"n = {iv.n} < 2: no interval" if iv.n < 2 else f"95% t interval, n = {iv.n} paired seeds"


def _diverged_note(runs: pd.DataFrame, models) -> str:
    div = runs[(runs.status == "diverged") & runs.model.isin(models)]
    if div.empty:
        return ""
    counts = div.groupby("model").seed.count()
    return "diverged and left out: " + ", ".join(f"{m} ({c} seed{'s' * (c > 1)})" for m, c in counts.items())
