"""The reports' claims judged from our runs: each one reproduced, contradicted, inconclusive or
not run, with its evidence.

A claim is data in the config (:class:`cnnstudy.config.Claim`). Claims about differences
(``difference``, ``order``, ``best``, ``hardest_classes``, ``gradient_ratio``) become paired
t tests over seeds (runs of a study share their seeds); the p-values of one report's tests
are adjusted together (Holm), and a claim is contradicted only where a test is significant
against the claimed direction. A report's single number is compared with where one run of
ours would fall, on the record that measures what the report measured (the claim's
``metric``): the 95 % t prediction interval on the logit scale (it stays inside [0, 1]),
rounded outward to the report's precision; an interval wider than ``max_interval_width``
judges nothing. A seed that collapsed to chance is judged with and without: where the two
verdicts differ the claim is inconclusive. A claim on a set-up the report leaves open says
it is judged under our reading. Convolution claims are checked on the gate's table.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from cnnstudy.config import Claim, claim_runs
from cnnstudy.judging.aggregate import (
    RECORDED,
    Metric,
    bounded_prediction_interval,
    decimals_of,
    mean_interval,
    outward,
    per_class_accuracy,
    study_metric,
)
from cnnstudy.records import ClaimRow, ClaimTestRow, NumberRow, columns, frame

ALPHA = 0.05
POWER = 0.8
METHOD = (
    "Differences: paired t tests over seeds, p-values Holm-adjusted within each report; contradicted only where a "
    "test is significant against the claimed direction. A report's number: inside or outside the 95 % prediction "
    "interval of one run of ours (logit scale, inside [0, 1]) on the record matching the report's metric, at the "
    "report's precision; too wide an interval is inconclusive. Collapsed seeds: judged with and without. "
    "Inconclusive differences say how many seeds would resolve them at 80 % power."
)
VERDICTS = ("reproduced", "contradicted", "inconclusive", "not run")
BOUNDED_UNITS = ("accuracy", "recall")  # differences of two fractions: inside [-1, 1]


@dataclass(frozen=True)
class Evidence:
    """The pipeline's tidy tables that claims are judged on."""

    runs: pd.DataFrame
    confusion: pd.DataFrame
    grad_norms: pd.DataFrame
    conv_cases: pd.DataFrame


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
    outcome: str = ""  # supports | contradicts | inconclusive | no data
    seeds_needed: float = math.nan

    @property
    def n(self) -> int:
        return len(self.differences)

    def interval(self):
        """The mean difference with its 95 % t interval, intersected with the range a difference
        of two fractions can take ([-1, 1]): the true difference lies there, so the coverage
        stays, and no bound reads as a difference no accuracy can make."""
        iv = mean_interval(self.differences)
        if self.unit in BOUNDED_UNITS and iv.n >= 2:
            iv = dataclasses.replace(iv, low=max(iv.low, -1.0), high=min(iv.high, 1.0))
        return iv

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
        if self.outcome == "inconclusive" and np.isfinite(self.seeds_needed):
            text += f"; about {int(self.seeds_needed)} seeds would resolve it ({POWER:.0%} power)"
        return text


@dataclass
class Judgement:
    """A claim's verdict and its evidence."""

    claim: Claim
    checked: str  # what we test, in our words
    metric: str  # ours
    verdict: str = ""
    evidence: str = ""
    n: int = 0
    tests: list = field(default_factory=list)
    number: NumberRow | None = None  # number claims: the row of vs_reported
    number_runs: pd.DataFrame | None = None  # number claims: the study's runs, for the row's diverged count
    collapsed: str = ""  # e.g. "1 of 3 seeds collapsed to chance (lr_1e_2 seed 1)"


# ----------------------------------------------------------------------------- paired tests
def _t_p(d: np.ndarray, value: float, alternative: str) -> float:
    if np.std(d) == 0:  # identical differences: the t statistic is infinite or undefined
        mean = float(d.mean())
        side = {"greater": mean > value, "less": mean < value, "two-sided": mean != value}[alternative]
        return 0.0 if side else 1.0
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
    try:
        n = TTestPower().solve_power(effect_size=effect, alpha=ALPHA / family, power=POWER, alternative="two-sided")
    except (ValueError, RuntimeError):  # the solver finds no root (tiny effects)
        return math.nan
    return float(max(math.ceil(n), t.n + 1)) if np.isfinite(n) else math.nan


def adjust(tests: list[PairedTest]) -> None:
    """One report's tests: Holm over those with a p-value (n >= 2), then each outcome."""
    ready = [t for t in tests if t.n >= 2]
    for t in ready:
        t.p, t.towards_claim = _p_value(t)
    if ready:
        for t, p in zip(ready, multipletests([t.p for t in ready], alpha=ALPHA, method="holm")[1]):
            t.p_holm = float(p)
    for t in tests:
        if t.n == 0:
            t.outcome = "no data"
        elif t.n < 2 or not t.p_holm < ALPHA:
            t.outcome = "inconclusive"
            t.seeds_needed = _seeds_needed(t, max(1, len(ready)))
        else:
            t.outcome = "supports" if t.towards_claim else "contradicts"


def _verdict_of_tests(tests: list[PairedTest]) -> str:
    outcomes = {t.outcome for t in tests}
    if "contradicts" in outcomes:
        return "contradicted"
    if outcomes == {"supports"}:
        return "reproduced"
    return "not run" if outcomes == {"no data"} else "inconclusive"


# ----------------------------------------------------------------------------- the claims' tests
def _pair(c: Claim, values: pd.DataFrame, a: str, b: str, direction="greater", margin=0.0) -> PairedTest:
    d = (values[a] - values[b]).dropna().to_numpy() if a in values and b in values else np.array([])
    null = -margin if direction == "not_less" else 0.0
    return PairedTest(c.id, f"{a} − {b}", d, direction, null, margin)


def _difference_tests(c: Claim, values: pd.DataFrame) -> list[PairedTest]:
    s = c.spec
    if c.kind == "difference":
        return [_pair(c, values, s["a"], s["b"], s["direction"], s.get("margin", 0.0))]
    if c.kind == "order":
        return [_pair(c, values, hi, lo) for hi, lo in zip(s["runs"], s["runs"][1:])]
    return [_pair(c, values, s["run"], other) for other in s["among"]]  # best


def _hardest_tests(c: Claim, confusion: pd.DataFrame, runs: list, split: str) -> list[PairedTest]:
    """Per run: the recall of the hardest other class minus that of the easiest claimed class,
    per seed; the claim holds where it is above zero."""
    pc = per_class_accuracy(confusion, split)
    classes = c.spec["classes"]
    tests = []
    for run in runs:
        recall = pc[pc.model == run].pivot_table(index="seed", columns="class", values="accuracy")
        if recall.empty or not set(classes) <= set(recall.columns):
            gap = np.array([])
        else:
            gap = (recall.drop(columns=classes).min(axis=1) - recall[classes].max(axis=1)).to_numpy()
        label = f"{run}: hardest other class − easiest of {', '.join(classes)} ({split} recall)"
        tests.append(PairedTest(c.id, label, gap, "greater", unit="recall"))
    return tests


def _layer_norms(grads: pd.DataFrame, ref: dict) -> pd.Series:
    """Per seed, the median over the run's records of its first or last layer's gradient norm."""
    g = grads[grads.model == ref["run"]]
    if g.empty:
        return pd.Series(dtype=float)
    depth = g.depth.min() if ref["layer"] == "first" else g.depth.max()
    return g[g.depth == depth].groupby("seed").grad_norm.median()


def _gradient_tests(c: Claim, grads: pd.DataFrame) -> list[PairedTest]:
    a, b = c.spec["a"], c.spec["b"]
    ratio = np.log10(_layer_norms(grads, a) / _layer_norms(grads, b)).replace([np.inf, -np.inf], np.nan).dropna()
    label = f"log10 gradient-norm ratio, {a['run']} ({a['layer']} layer) / {b['run']} ({b['layer']} layer)"
    return [PairedTest(c.id, label, ratio.to_numpy(), "less", null=math.log10(c.spec["below"]), unit="log10 ratio")]


# ----------------------------------------------------------------------------- what each claim says
def checked_text(c: Claim, metric: Metric | None) -> str:
    """What we test for a claim, in words."""
    s, on = c.spec, f" on {metric.label}, paired by seed" if metric else ""
    match c.kind:
        case "difference":
            a, b, m = s["a"], s["b"], s.get("margin", 0)
            return {"greater": f"{a} > {b}", "not_less": f"{a} ≥ {b} − {m:g}", "similar": f"|{a} − {b}| < {m:g}"}[
                s["direction"]
            ] + on
        case "order":
            return " > ".join(s["runs"]) + on
        case "best":
            return f"{s['run']} > each of {', '.join(s['among'])}" + on
        case "number":
            on = f" ({metric.label})" if metric else " (no record of ours matches the report's metric)"
            return f"one run of {s['run']} gives {_value_text(s['value'])}" + on
        case "chance":
            return f"{s['run']} ends at chance level (within {s['margin']:g}) or diverges"
        case "hardest_classes":
            runs = f"for {', '.join(s['runs'])}" if s.get("runs") else "for every run"
            return f"{', '.join(s['classes'])}: lowest recall of every class, {runs}"
        case "gradient_ratio":
            a, b = s["a"], s["b"]
            return (
                f"median gradient norm of {a['run']}'s {a['layer']} layer < {s['below']:g} x that of "
                f"{b['run']}'s {b['layer']} layer"
            )
        case "conv_cases":
            cases = f"the cases {', '.join(s['cases'])}" if s.get("cases") else "every case of the gate"
            return f"{', '.join(s['implementations'])} pass {cases}"
    return f"L2 norm of ours − torch's {s['quantity']} ({s['implementation']}) at most {s['bound']:g} on every case"


def _value_text(value, decimals: int | None = None) -> str:
    fmt = (lambda v: f"{v:.{decimals}f}") if decimals is not None else (lambda v: f"{v:.4g}")
    return f"{fmt(value[0])}-{fmt(value[1])}" if isinstance(value, list) else fmt(value)


# A report's accuracy is written at least to the whole percent (0.70 is read back as 0.7)
MIN_DECIMALS = 2


@dataclass(frozen=True)
class Settings:
    """How number claims are judged (config keys max_interval_width, collapse_margin)."""

    max_interval_width: float = 0.25


def _study_values(ev: Evidence, study: str, column: str | None = None) -> tuple[Metric, pd.DataFrame, pd.DataFrame]:
    """The study's metric, its completed seeds' values (seed x run) of ``column`` (default:
    the metric's) and all its runs' rows."""
    r = ev.runs[ev.runs.study == study]
    metric = study_metric(r)
    ok = r[r.status != "diverged"]
    return metric, ok.pivot_table(index="seed", columns="model", values=column or metric.column, dropna=False), r


def _not_run_reason(c: Claim, runs: pd.DataFrame) -> str:
    """Why a study claim cannot be judged at all, or ''."""
    if runs.empty:
        return f"study {c.study} is not selected in this config (key select)"
    for run in dict.fromkeys(claim_runs(c)):
        rows = runs[runs.model == run]
        if rows.empty:
            return f"{run} is not selected in this config (key select)"
        if c.kind != "chance" and (rows.status == "diverged").all():
            return f"{run} diverged on all {len(rows)} seeds"
    return ""


def _metric_note(c: Claim, ours: str) -> str:
    return f"the report: {c.reported_metric}; ours: {ours}" if c.reported_metric else f"ours: {ours}"


def _number_verdict(values: pd.Series, value, decimals: int, settings: Settings) -> tuple[str, dict, str]:
    """Reproduced where the report's number (or range) meets where one run of ours falls, at the
    report's precision; inconclusive where no interval of useful width exists."""
    lo, hi = (value, value) if not isinstance(value, list) else value
    iv, (p_lo, p_hi) = mean_interval(values), bounded_prediction_interval(values)
    interval = dict(ours_mean=iv.mean, ci_low=iv.low, ci_high=iv.high, pi_low=p_lo, pi_high=p_hi, n=iv.n)
    if iv.n < 2:
        return "inconclusive", interval, f"ours {iv.mean:.4f} from {iv.n} seed(s): no prediction interval"
    r_lo, r_hi = outward(p_lo, p_hi, decimals)
    interval.update(pi_low_rounded=r_lo, pi_high_rounded=r_hi)
    d = decimals + 2  # enough digits to see why a number is inside or outside
    shown = (
        f"[{p_lo:.{d}f}, {p_hi:.{d}f}] (95 %, logit scale), [{r_lo:.{decimals}f}, {r_hi:.{decimals}f}] at its precision"
    )
    ours = f"ours {iv.mean:.{d}f} (sd {iv.sd:.{d}f}, n = {iv.n}); one run of ours falls in {shown}"
    if p_hi - p_lo > settings.max_interval_width:
        reason = (
            f"{ours}: wider than {settings.max_interval_width:g} of the accuracy range (max_interval_width), no verdict"
        )
        return "inconclusive", interval, reason
    inside = lo <= r_hi and hi >= r_lo
    return ("reproduced" if inside else "contradicted"), interval, f"{ours}: {'inside' if inside else 'outside'}"


def _judge_number(c: Claim, ev: Evidence, runs: pd.DataFrame, settings: Settings) -> Judgement:
    run, value, key = c.spec["run"], c.spec["value"], c.spec["metric"]
    written = [decimals_of(v) for v in (value if isinstance(value, list) else [value])]
    decimals = c.spec.get("decimals", max([MIN_DECIMALS, *written]))
    headline = study_metric(runs)
    metric = RECORDED.get(key, headline)
    _, values, _ = _study_values(ev, c.study, metric.column)
    v = values[run].dropna() if run in values else pd.Series(dtype=float)
    j = Judgement(c, checked_text(c, metric if key != "none" else None), metric.label, number_runs=runs)
    report = f"report {_value_text(value, decimals)}"
    if key == "none":
        j.verdict, interval, _ = _number_verdict(v, value, decimals, settings)
        j.evidence = (
            f"metrics differ: no record of ours measures the report's ({report}; ours {interval['ours_mean']:.4f}"
        )
        j.evidence += f" on {metric.label}): not judged"
        j.verdict = "inconclusive"
    elif v.empty:
        j.verdict, interval = "not run", {"ours_mean": np.nan, "n": 0}
        j.evidence = f"{run} records no {metric.label} (a dataset without that split?)"
    else:
        j.verdict, interval, words = _number_verdict(v, value, decimals, settings)
        j.evidence = f"{report} on {metric.label}; {words}"
    j.n = interval["n"]
    j.number = _number_row(c, j, interval, metric, decimals)
    return j


def _number_row(c: Claim, j: Judgement, interval: dict, metric: Metric, decimals: int) -> NumberRow:
    nan = {k: np.nan for k in ("ours_mean", "ci_low", "ci_high", "pi_low", "pi_high", "pi_low_rounded",
                               "pi_high_rounded")}  # fmt: skip
    runs = j.number_runs
    return NumberRow(report=c.report, study=c.study, model=c.spec["run"], claim=c.id,
                     reported=_value_text(c.spec["value"], decimals), decimals=decimals,
                     reported_metric=c.reported_metric, matched_metric=c.spec["metric"], our_metric=metric.label,
                     diverged=int((runs[runs.model == c.spec["run"]].status == "diverged").sum()),
                     reported_in_prediction_interval={"reproduced": "yes", "contradicted": "no"}.get(j.verdict,
                                                                                                    "no verdict"),
                     **{**nan, **interval})  # fmt: skip


def _judge_chance(c: Claim, runs: pd.DataFrame, metric: Metric) -> Judgement:
    rows = runs[runs.model == c.spec["run"]]
    margin = c.spec["margin"]  # the schema's default where the config gives none
    chance = float(rows.chance_level.iloc[0])
    diverged = rows.status == "diverged"
    at_chance = diverged | (rows[metric.column] <= chance + margin)
    k, n = int(at_chance.sum()), len(rows)
    verdict = "reproduced" if k == n else "contradicted" if k == 0 else "inconclusive"
    accuracies = ", ".join(f"{a:.3f}" for a in rows[~diverged][metric.column])
    evidence = f"{k} of {n} seeds at chance {chance:.3f} ({int(diverged.sum())} diverged"
    evidence += f"; the others: {accuracies})" if accuracies else ")"
    return Judgement(c, checked_text(c, metric), metric.label, verdict, evidence, n)


def _judge_conv(c: Claim, cases: pd.DataFrame) -> Judgement:
    s = c.spec
    j = Judgement(c, checked_text(c, None), "max |ours − torch| (float64) per case, against a tolerance")
    if cases.empty:
        j.verdict, j.evidence = "not run", "the convolution gate's table is empty"
        return j
    if c.kind == "conv_cases":
        sel = cases[cases.implementation.isin(s["implementations"])]
        sel = sel[sel.case.isin(s["cases"])] if s.get("cases") else sel
        failed = sel[~sel.passed.astype(bool)]
        j.n = len(sel)
        j.verdict = "contradicted" if len(failed) else "reproduced" if len(sel) else "not run"
        names = ", ".join(f"{a} ({b})" for a, b in zip(failed.case, failed.implementation))
        j.evidence = f"{len(sel) - len(failed)} of {len(sel)} case x implementation checks pass" + (
            f"; failing: {names}" if names else ""
        )
        return j
    col = f"l2_error_{s['quantity']}"
    sel = cases[cases.implementation == s["implementation"]].dropna(subset=[col])
    j.metric, j.n = "L2 norm of ours − torch's (float64), largest over the cases", len(sel)
    if sel.empty:
        j.verdict, j.evidence = "not run", f"no case computes {s['quantity']} with {s['implementation']}"
        return j
    worst = sel.loc[sel[col].idxmax()]
    j.verdict = "reproduced" if worst[col] <= s["bound"] else "contradicted"
    j.evidence = f"largest over {len(sel)} cases: {worst[col]:.2e} (case {worst.case}); the report: {s['bound']:g}"
    return j


def _of_completed(table: pd.DataFrame, study: str, runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` from the study's completed (study, model, seed) runs."""
    if table.empty:
        return table
    completed = set(zip(runs.model[runs.status != "diverged"], runs.seed[runs.status != "diverged"]))
    t = table[table.study == study]
    return t[[key in completed for key in zip(t.model, t.seed)]]


def _start(c: Claim, ev: Evidence, settings: Settings) -> Judgement:
    """A claim's judgement, or its tests waiting for the report's Holm adjustment."""
    if not c.study:
        return _judge_conv(c, ev.conv_cases)
    metric, values, runs = _study_values(ev, c.study)
    reason = _not_run_reason(c, runs)
    if reason:
        return Judgement(c, checked_text(c, metric), metric.label, "not run", reason)
    if c.kind == "number":
        return _judge_number(c, ev, runs, settings)
    if c.kind == "chance":
        return _judge_chance(c, runs, metric)
    j = Judgement(c, checked_text(c, metric), metric.label)
    if c.kind == "hardest_classes":
        targets = c.spec.get("runs") or list(values.columns)
        j.metric = f"{metric.split} recall of the best-val epoch"
        j.tests = _hardest_tests(c, _of_completed(ev.confusion, c.study, runs), targets, metric.split)
    elif c.kind == "gradient_ratio":
        j.metric = "L2 norm of the layer's weight gradient, median over the records"
        j.tests = _gradient_tests(c, _of_completed(ev.grad_norms, c.study, runs))
    else:
        j.tests = _difference_tests(c, values)
    return j


def _finish(j: Judgement) -> None:
    j.verdict = _verdict_of_tests(j.tests)
    j.n = min(t.n for t in j.tests)
    j.evidence = "; ".join(t.describe() for t in j.tests)
    if j.verdict == "not run":
        j.evidence = "no seed where the compared runs all completed: " + j.evidence


def _judge_family(claims: list[Claim], ev: Evidence, settings: Settings) -> list[Judgement]:
    """Every claim's verdict on ``ev``; the tests of one report are Holm-adjusted together."""
    judgements = [_start(c, ev, settings) for c in claims]
    for report in dict.fromkeys(c.report for c in claims):
        adjust([t for j in judgements if j.claim.report == report and not j.verdict for t in j.tests])
    for j in judgements:
        if not j.verdict:
            _finish(j)
    return judgements


def collapsed_text(c: Claim, runs: pd.DataFrame) -> str:
    """Per run a claim rests on: how many of its completed seeds collapsed to chance ('' if none)."""
    of_study = runs[(runs.study == c.study) & (runs.status != "diverged")]
    named = claim_runs(c) or list(dict.fromkeys(of_study.model))
    parts = []
    for run in dict.fromkeys(named):
        rows = of_study[of_study.model == run]
        gone = rows[rows.collapsed.astype(bool)]
        if len(gone):
            seeds = ", ".join(map(str, gone.seed))
            parts.append(f"{len(gone)} of {len(rows)} seeds of {run} collapsed to chance (seed {seeds})")
    return "; ".join(parts)


def _reconcile(j: Judgement, without: Judgement) -> None:
    """A verdict that holds with and without the collapsed seeds stands; else inconclusive."""
    if without.verdict == j.verdict:
        j.evidence += f". {j.collapsed}: the same verdict without them"
        return
    j.evidence = (
        f"{j.collapsed}: with them {j.verdict} ({j.evidence}); without them {without.verdict} ({without.evidence})"
    )
    j.verdict = "inconclusive"


def judge(claims: list[Claim], ev: Evidence, settings: Settings = Settings()) -> list[Judgement]:
    """Every claim's verdict. Where a claim rests on a seed that collapsed to chance, it is
    judged again without the collapsed seeds (the same Holm families): a verdict that changes
    becomes inconclusive, saying both. A claim on our reading of an open set-up says so."""
    judgements = _judge_family(claims, ev, settings)
    collapsed = ev.runs.collapsed.astype(bool)
    if collapsed.any():
        without = _judge_family(claims, dataclasses.replace(ev, runs=ev.runs[~collapsed]), settings)
        for j, alt in zip(judgements, without):
            j.collapsed = collapsed_text(j.claim, ev.runs) if j.claim.study else ""
            if j.collapsed and j.verdict != "not run":
                _reconcile(j, alt)
    for j in judgements:
        if j.claim.study and j.verdict != "not run":
            j.evidence += f" ({_metric_note(j.claim, j.metric)})"
        if j.claim.reading and j.verdict != "not run":
            j.evidence = f"Under our reading of the set-up ({j.claim.reading}): {j.evidence}"
    return judgements


# ----------------------------------------------------------------------------- tables
SET_UPS = ("the report's", "our reading")  # a claim's runs as the report states them, or as we had to choose
CLAIM_COLUMNS, TEST_COLUMNS, NUMBER_COLUMNS = columns(ClaimRow), columns(ClaimTestRow), columns(NumberRow)


def claims_table(judgements: list[Judgement]) -> pd.DataFrame:
    rows = [
        ClaimRow(claim=j.claim.id, report=j.claim.report, study=j.claim.study, kind=j.claim.kind, quote=j.claim.quote,
                 checked=j.checked, verdict=j.verdict, set_up=SET_UPS[bool(j.claim.reading)], evidence=j.evidence,
                 n=j.n, collapsed=j.collapsed, our_metric=j.metric, reported_metric=j.claim.reported_metric,
                 reading=j.claim.reading)
        for j in judgements
    ]  # fmt: skip
    return frame(ClaimRow, rows)


def _test_row(j: Judgement, t: PairedTest) -> ClaimTestRow:
    iv = t.interval()
    return ClaimTestRow(claim=j.claim.id, report=j.claim.report, study=j.claim.study, label=t.label, unit=t.unit,
                        direction=t.direction, null=t.null, margin=t.margin, mean=iv.mean, ci_low=iv.low,
                        ci_high=iv.high, n=iv.n, p=t.p, p_holm=t.p_holm, outcome=t.outcome,
                        seeds_needed=t.seeds_needed, verdict=j.verdict)  # fmt: skip


def tests_table(judgements: list[Judgement]) -> pd.DataFrame:
    return frame(ClaimTestRow, [_test_row(j, t) for j in judgements for t in j.tests])


def versus_reported(judgements: list[Judgement]) -> pd.DataFrame:
    """Ours beside each number a report gives, with the 95 % prediction interval of one run."""
    return frame(NumberRow, [j.number for j in judgements if j.number])


def counts(claims_frame: pd.DataFrame) -> pd.DataFrame:
    """Per report: how many claims got each verdict."""
    table = pd.crosstab(claims_frame.report, claims_frame.verdict).reindex(columns=list(VERDICTS), fill_value=0)
    table.insert(0, "claims", table.sum(axis=1))
    return table.reset_index()
