"""The one statistics module of the judging stage, used by the config's questions and the
reports' claims alike: the seed-by-run table, t intervals of means and of paired
differences, prediction intervals (on the logit scale for accuracies), paired t tests
against a claimed boundary, Holm's adjustment and the seeds that would resolve a test.

Runs of one study share their seeds (same data split, same initialization seed): every
comparison is paired by seed, over the seeds where both runs completed."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnstudy.judging.verdicts import Comparison, Outcome

LEVEL = 0.95


ALPHA = 0.05


POWER = 0.8


BOUNDED_UNITS = ("accuracy", "recall")  # differences of two fractions: inside [-1, 1]


def _t_quantile(level: float, df: int) -> float:
    from scipy import stats  # imported when used: the config loader reads the claim kinds, not scipy

    return float(stats.t.ppf(0.5 + level / 2, df))


LOGIT_CLIP = 1e-3  # a perfect (or zero) accuracy has no logit: clipped this far inside [0, 1]


@dataclass(frozen=True)
class Interval:
    """Mean of n values with its t interval; low/high/sd are NaN where n < 2."""

    mean: float
    low: float
    high: float
    sd: float
    n: int

    def verdict(self) -> Comparison:
        if self.n < 2 or not self.low > 0 and not self.high < 0:
            return Comparison.INCONCLUSIVE
        return Comparison.BETTER if self.low > 0 else Comparison.WORSE


def mean_interval(values, level: float = LEVEL) -> Interval:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, np.nan, 0)
    if n < 2:
        return Interval(float(v.mean()), np.nan, np.nan, np.nan, 1)
    sd = float(v.std(ddof=1))
    half = _t_quantile(level, n - 1) * sd / np.sqrt(n)
    return Interval(float(v.mean()), float(v.mean()) - half, float(v.mean()) + half, sd, n)


def paired(values: pd.DataFrame, a: str, b: str) -> Interval:
    """a - b over the seeds both have (``values``: index seed, one column per run, accuracies),
    its interval intersected with [-1, 1], where a difference of two fractions lies."""
    if a not in values or b not in values:
        return mean_interval([])
    return difference_interval((values[a] - values[b]).dropna().values)


def difference_interval(differences, bounded: bool = True) -> Interval:
    """The mean difference with its t interval; ``bounded``: a difference of two fractions,
    its interval intersected with [-1, 1] (the true difference lies there, so the coverage
    stays, and no bound reads as a difference no accuracy can make)."""
    iv = mean_interval(differences)
    return dataclasses.replace(iv, low=max(iv.low, -1.0), high=min(iv.high, 1.0)) if bounded and iv.n >= 2 else iv


def seed_table(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    """The one seed-by-run table every comparison is read from: index seed, a column per run
    (``model``), the value of ``column`` for each seed that did not diverge (diverged seeds are
    left out, never averaged in as zeros); a run without any value keeps its column of NaN."""
    ok = runs[runs.status != "diverged"]
    return ok.pivot_table(index="seed", columns="model", values=column, dropna=False)


def prediction_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Where one more run would fall: mean +- t(n-1) * sd * sqrt(1 + 1/n) (NaN where n < 2).
    A report's single run is compared with this, not with the interval of our mean."""
    iv = mean_interval(values, level)
    if iv.n < 2:
        return np.nan, np.nan
    half = _t_quantile(level, iv.n - 1) * iv.sd * np.sqrt(1 + 1 / iv.n)
    return iv.mean - half, iv.mean + half


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


@dataclass
class PairedTest:
    """One paired t test of a claim: per-seed differences against the claimed boundary."""

    claim: str
    label: str
    differences: np.ndarray
    direction: str  # greater | less | not_less (> null) | similar (|d| < margin)
    null: float = 0.0
    margin: float = 0.0
    unit: str = "accuracy"
    p: float = math.nan
    towards_claim: bool = False  # the side p points to: the claimed one, or its opposite
    p_holm: float = math.nan
    outcome: Outcome | None = None  # None: not adjusted yet
    seeds_needed: float = math.nan

    @property
    def n(self) -> int:
        return len(self.differences)

    def interval(self):
        """The mean difference with its 95 % t interval (within [-1, 1] for accuracies and recalls)."""
        return difference_interval(self.differences, bounded=self.unit in BOUNDED_UNITS)

    def describe(self) -> str:
        iv = self.interval()
        if iv.n == 0:
            return f"{self.label}: no seed where both completed"
        if iv.n < 2:
            return f"{self.label}: {iv.mean:+.4f}, n = 1 (no interval)"
        clipped = " (within [-1, 1])" if self.unit in BOUNDED_UNITS and (iv.low == -1.0 or iv.high == 1.0) else ""
        text = (
            f"{self.label}: {iv.mean:+.4f} [{iv.low:+.4f}, {iv.high:+.4f}]{clipped}, n = {iv.n}, "
            f"p = {self.p:.2g}, Holm p = {self.p_holm:.2g}"
        )
        if self.outcome is Outcome.INCONCLUSIVE and np.isfinite(self.seeds_needed):
            text += f"; about {int(self.seeds_needed)} seeds would resolve it ({POWER:.0%} power)"
        return text


def _t_p(d: np.ndarray, value: float, alternative: str) -> float:
    if np.std(d) == 0:  # identical differences: the t statistic is infinite or undefined
        mean = float(d.mean())
        side = {"greater": mean > value, "less": mean < value, "two-sided": mean != value}[alternative]
        return 0.0 if side else 1.0
    from scipy import stats

    return float(stats.ttest_1samp(d, value, alternative=alternative).pvalue)


def _p_value(t: PairedTest) -> tuple[float, bool]:
    """The p-value of the test and whether it points towards the claim. Directional claims:
    two-sided against the boundary. ``similar``: the smaller of the equivalence p (two
    one-sided tests) and the p of lying outside the margin."""
    d, mean = t.differences, float(t.differences.mean())
    if t.direction == "similar":
        p_inside = max(_t_p(d, -t.margin, "greater"), _t_p(d, t.margin, "less"))
        p_outside = 1.0
        if abs(mean) > t.margin:
            p_outside = _t_p(d, math.copysign(t.margin, mean), "greater" if mean > 0 else "less")
        return (p_inside, True) if p_inside <= p_outside else (p_outside, False)
    towards = mean < t.null if t.direction == "less" else mean > t.null
    return _t_p(d, t.null, "two-sided"), towards


def _seeds_needed(t: PairedTest, family: int) -> float:
    """Seeds that would resolve the observed effect at 80 % power, at the Bonferroni level of
    the report's tests (statsmodels' power solver); NaN where it cannot say."""
    if t.direction == "similar" or t.n < 2:
        return math.nan
    sd = float(np.std(t.differences, ddof=1))
    effect = abs(float(t.differences.mean()) - t.null) / sd if sd > 0 else math.nan
    if not effect > 0:
        return math.nan
    from statsmodels.stats.power import TTestPower

    try:
        n = TTestPower().solve_power(effect_size=effect, alpha=ALPHA / family, power=POWER, alternative="two-sided")
    except (ValueError, RuntimeError):  # the solver finds no root (tiny effects)
        return math.nan
    return float(max(math.ceil(n), t.n + 1)) if np.isfinite(n) else math.nan


def adjust(tests: list[PairedTest]) -> None:
    """One report's tests: Holm over those with a p-value (n >= 2), then each outcome."""
    from statsmodels.stats.multitest import multipletests

    ready = [t for t in tests if t.n >= 2]
    for t in ready:
        t.p, t.towards_claim = _p_value(t)
    if ready:
        for t, p in zip(ready, multipletests([t.p for t in ready], alpha=ALPHA, method="holm")[1]):
            t.p_holm = float(p)
    for t in tests:
        if t.n == 0:
            t.outcome = Outcome.NO_DATA
        elif t.n < 2 or not t.p_holm < ALPHA:
            t.outcome = Outcome.INCONCLUSIVE
            t.seeds_needed = _seeds_needed(t, max(1, len(ready)))
        else:
            t.outcome = Outcome.SUPPORTS if t.towards_claim else Outcome.CONTRADICTS
