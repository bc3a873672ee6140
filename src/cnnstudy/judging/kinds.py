"""Every kind of claim, one registry entry each: its keys (a JSON-schema fragment the config's
schema is assembled with), the runs it names, what else must hold at load, what we test in
words, and how it is judged: paired tests (Holm-adjusted with the rest of its report, in
:mod:`cnnstudy.judging.claims`) or a verdict of its own. Adding a kind is one entry here plus
its tests; nothing else reads a kind's keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml

from cnnstudy.judging.statistics import (
    PairedTest,
    bounded_prediction_interval,
    decimals_of,
    mean_interval,
    outward,
    seed_table,
)
from cnnstudy.judging.tables import RECORDED, Metric, class_recalls, of_completed, study_metric
from cnnstudy.judging.verdicts import Robustness, Verdict
from cnnstudy.records import NumberRow

if TYPE_CHECKING:
    from cnnstudy.config import Claim


@dataclass(frozen=True)
class Evidence:
    """The pipeline's tidy tables that claims are judged on."""

    runs: pd.DataFrame
    confusion: pd.DataFrame
    grad_norms: pd.DataFrame
    conv_cases: pd.DataFrame


@dataclass(frozen=True)
class Settings:
    """How number claims are judged (config key max_interval_width)."""

    max_interval_width: float = 0.25


@dataclass(frozen=True)
class Study:
    """What a study claim is judged on: the study's runs, its headline metric and its
    seed-by-run table of that metric (diverged seeds left out)."""

    evidence: Evidence
    runs: pd.DataFrame
    metric: Metric
    values: pd.DataFrame
    settings: Settings

    def completed(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``table`` from the study's completed (model, seed) runs."""
        return of_completed(table, self.runs)


@dataclass
class Judgement:
    """A claim's verdict and its evidence."""

    claim: Claim
    checked: str  # what we test, in our words
    metric: str  # ours
    verdict: Verdict | None = None  # None: its tests wait for the report's Holm adjustment
    evidence: str = ""
    n: int = 0
    tests: list = field(default_factory=list)
    number: NumberRow | None = None  # number claims: the row of vs_reported
    collapsed: str = ""  # e.g. "1 of 3 seeds collapsed to chance (lr_1e_2 seed 1)"
    robustness: Robustness | None = None  # conclusive verdicts of paired tests: to leaving one seed out
    flipped_by: list = field(default_factory=list)  # the seeds whose leaving out changes the verdict


@dataclass(frozen=True)
class Known:
    """What a load-time check may compare a claim with: its dataset's classes, the gate's cases."""

    classes: list
    cases: list


def _nothing(spec: dict, known: Known) -> str:
    return ""


@dataclass(frozen=True)
class ClaimKind:
    """One kind of claim. Exactly one of ``tests`` and ``judge`` is given."""

    schema: dict  # its keys beside the common ones (id, kind, quote, reported_metric)
    runs: Callable[[dict], list]  # the runs its spec names: each must be a run of its study
    checked: Callable[[dict, Metric | None], str]  # what we test, in words
    tests: Callable[[Claim, Study], list] | None = None  # its paired tests
    judge: Callable[[Claim, Study], Judgement] | None = None  # or its own verdict
    check: Callable[[dict, Known], str] = _nothing  # a problem the schema cannot see, or ''
    metric: Callable[[Metric], str] | None = None  # the metric it reads, where not the study's
    on_gate: bool = False  # judged on the convolution gate's table (a claim under conv_tests)
    diverged_counts: bool = False  # a run diverged on every seed is evidence, not "not run"


def _spec(text: str) -> dict:
    return yaml.safe_load(text)


# ----------------------------------------------------------------------------- differences of runs
def _pair(c: Claim, values: pd.DataFrame, a: str, b: str, direction="greater", margin=0.0) -> PairedTest:
    d = (values[a] - values[b]).dropna().to_numpy() if a in values and b in values else np.array([])
    null = -margin if direction == "not_less" else 0.0
    return PairedTest(c.id, f"{a} − {b}", d, direction, null, margin)


def _paired_by_seed(metric: Metric | None) -> str:
    return f" on {metric.label}, paired by seed" if metric else ""


def _difference_words(s: dict, metric: Metric | None) -> str:
    a, b, m = s["a"], s["b"], s.get("margin", 0)
    words = {"greater": f"{a} > {b}", "not_less": f"{a} ≥ {b} − {m:g}", "similar": f"|{a} − {b}| < {m:g}"}
    return words[s["direction"]] + _paired_by_seed(metric)


def _same_runs(spec: dict, known: Known) -> str:
    if spec["a"] == spec["b"]:
        return f"a and b are both {spec['a']!r}: the claim compares it with itself"
    return ""


DIFFERENCE = ClaimKind(
    schema=_spec("""
        required: [a, b, direction]
        properties:
          a: {type: string}
          b: {type: string}
          direction:
            enum: [greater, not_less, similar]
            description: "greater: a > b; not_less: a >= b - margin; similar: |a - b| < margin"
          margin: {type: number, exclusiveMinimum: 0, maximum: 1}
        if: {properties: {direction: {enum: [not_less, similar]}}}
        then: {required: [margin]}
        else: {not: {required: [margin]}}
    """),
    runs=lambda s: [s["a"], s["b"]],
    checked=_difference_words,
    tests=lambda c, st: [_pair(c, st.values, c.spec["a"], c.spec["b"], c.spec["direction"], c.spec.get("margin", 0.0))],
    check=_same_runs,
)

ORDER = ClaimKind(
    schema=_spec("""
        required: [runs]
        properties:
          runs: {type: array, items: {type: string}, minItems: 2, uniqueItems: true, description: "best first: runs[0] > runs[1] > ..."}
    """),
    runs=lambda s: list(s["runs"]),
    checked=lambda s, metric: " > ".join(s["runs"]) + _paired_by_seed(metric),
    tests=lambda c, st: [_pair(c, st.values, hi, lo) for hi, lo in zip(c.spec["runs"], c.spec["runs"][1:])],
)


def _beats_itself(spec: dict, known: Known) -> str:
    return f"among holds {spec['run']!r} itself: list only the runs it beats" if spec["run"] in spec["among"] else ""


BEST = ClaimKind(
    schema=_spec("""
        required: [run, among]
        properties:
          run: {type: string}
          among: {type: array, items: {type: string}, minItems: 1, uniqueItems: true, description: "the runs it beats"}
    """),
    runs=lambda s: [s["run"], *s["among"]],
    checked=lambda s, metric: f"{s['run']} > each of {', '.join(s['among'])}" + _paired_by_seed(metric),
    tests=lambda c, st: [_pair(c, st.values, c.spec["run"], other) for other in c.spec["among"]],
    check=_beats_itself,
)


# ----------------------------------------------------------------------------- a report's number
MIN_DECIMALS = 2  # a report's accuracy is written at least to the whole percent (0.70 is read back as 0.7)
IN_INTERVAL = {Verdict.REPRODUCED: "yes", Verdict.CONTRADICTED: "no"}  # the vs_reported column


def value_text(value, decimals: int | None = None) -> str:
    fmt = (lambda v: f"{v:.{decimals}f}") if decimals is not None else (lambda v: f"{v:.4g}")
    return f"{fmt(value[0])}-{fmt(value[1])}" if isinstance(value, list) else fmt(value)


def _number_words(s: dict, metric: Metric | None) -> str:
    on = f" ({metric.label})" if metric else " (no record of ours matches the report's metric)"
    return f"one run of {s['run']} gives {value_text(s['value'])}" + on


def _number_verdict(values: pd.Series, value, decimals: int, settings: Settings) -> tuple[Verdict, dict, str]:
    """Reproduced where the report's number (or range) meets where one run of ours falls, at the
    report's precision; inconclusive where no interval of useful width exists."""
    lo, hi = (value, value) if not isinstance(value, list) else value
    iv, (p_lo, p_hi) = mean_interval(values), bounded_prediction_interval(values)
    interval = dict(ours_mean=iv.mean, ci_low=iv.low, ci_high=iv.high, pi_low=p_lo, pi_high=p_hi, n=iv.n)
    if iv.n < 2:
        return Verdict.INCONCLUSIVE, interval, f"ours {iv.mean:.4f} from {iv.n} seed(s): no prediction interval"
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
        return Verdict.INCONCLUSIVE, interval, reason
    inside = lo <= r_hi and hi >= r_lo
    verdict = Verdict.REPRODUCED if inside else Verdict.CONTRADICTED
    return verdict, interval, f"{ours}: {'inside' if inside else 'outside'}"


def _judge_number(c: Claim, st: Study) -> Judgement:
    run, value, key = c.spec["run"], c.spec["value"], c.spec["metric"]
    written = [decimals_of(v) for v in (value if isinstance(value, list) else [value])]
    decimals = c.spec.get("decimals", max([MIN_DECIMALS, *written]))
    metric = RECORDED.get(key, st.metric)
    values = seed_table(st.runs, metric.column)
    v = values[run].dropna() if run in values else pd.Series(dtype=float)
    j = Judgement(c, _number_words(c.spec, metric if key != "none" else None), metric.label)
    report = f"report {value_text(value, decimals)}"
    if key == "none":
        _, interval, _ = _number_verdict(v, value, decimals, st.settings)
        j.evidence = (
            f"metrics differ: no record of ours measures the report's ({report}; ours {interval['ours_mean']:.4f}"
        )
        j.evidence += f" on {metric.label}): not judged"
        j.verdict = Verdict.INCONCLUSIVE
    elif v.empty:
        j.verdict, interval = Verdict.NOT_RUN, {"ours_mean": np.nan, "n": 0}
        j.evidence = f"{run} records no {metric.label} (a dataset without that split?)"
    else:
        j.verdict, interval, words = _number_verdict(v, value, decimals, st.settings)
        j.evidence = f"{report} on {metric.label}; {words}"
    j.n = interval["n"]
    j.number = _number_row(c, j, interval, metric, decimals, st.runs)
    return j


def _number_row(c: Claim, j: Judgement, interval: dict, metric: Metric, decimals: int, runs) -> NumberRow:
    nan = {k: np.nan for k in ("ours_mean", "ci_low", "ci_high", "pi_low", "pi_high", "pi_low_rounded",
                               "pi_high_rounded")}  # fmt: skip
    return NumberRow(report=c.report, study=c.study, model=c.spec["run"], claim=c.id,
                     reported=value_text(c.spec["value"], decimals), decimals=decimals,
                     reported_metric=c.reported_metric, matched_metric=c.spec["metric"], our_metric=metric.label,
                     diverged=int((runs[runs.model == c.spec["run"]].status == "diverged").sum()),
                     reported_in_prediction_interval=IN_INTERVAL.get(j.verdict, "no verdict"),
                     **{**nan, **interval})  # fmt: skip


def _upside_down(spec: dict, known: Known) -> str:
    value = spec["value"]
    if isinstance(value, list) and value[0] > value[1]:
        return f"value: the range {value} is upside down; write it [low, high]"
    return ""


NUMBER = ClaimKind(
    schema=_spec("""
        required: [run, value, metric]
        properties:
          run: {type: string}
          metric:
            enum: [test_of_best_val, last_val, last_test, best_val, best_test, none]
            description: "which of our records measures what the report measured (src/cnnstudy/judging/tables.py RECORDED): the last epoch's val or test accuracy, the best epoch's chosen on the split it reports, or ours (test accuracy of the best-val epoch); none: no record matches, the verdict says the metrics differ"
          decimals: {type: integer, minimum: 0, maximum: 6, description: "the decimals the report wrote its number with (default: those of value, 0.605 -> 3, and at least 2: a whole percent); write 3 for 0.680 (68.0 %)"}
          value:
            description: "the report's accuracy of one run, or the range [low, high] it gives"
            oneOf:
              - {type: number, minimum: 0, maximum: 1}
              - {type: array, items: {type: number, minimum: 0, maximum: 1}, minItems: 2, maxItems: 2}
    """),
    runs=lambda s: [s["run"]],
    checked=_number_words,
    judge=_judge_number,
    check=_upside_down,
)


# ----------------------------------------------------------------------------- a run at chance
def _judge_chance(c: Claim, st: Study) -> Judgement:
    rows, metric = st.runs[st.runs.model == c.spec["run"]], st.metric
    margin = c.spec["margin"]  # the schema's default where the config gives none
    chance = float(rows.chance_level.iloc[0])
    diverged = rows.status == "diverged"
    at_chance = diverged | (rows[metric.column] <= chance + margin)
    k, n = int(at_chance.sum()), len(rows)
    verdict = Verdict.REPRODUCED if k == n else Verdict.CONTRADICTED if k == 0 else Verdict.INCONCLUSIVE
    accuracies = ", ".join(f"{a:.3f}" for a in rows[~diverged][metric.column])
    evidence = f"{k} of {n} seeds at chance {chance:.3f} ({int(diverged.sum())} diverged"
    evidence += f"; the others: {accuracies})" if accuracies else ")"
    return Judgement(c, CHANCE.checked(c.spec, metric), metric.label, verdict, evidence, n)


CHANCE = ClaimKind(
    schema=_spec("""
        required: [run]
        properties:
          run: {type: string}
          margin: {type: number, minimum: 0, maximum: 1, default: 0.02, description: "a seed at most this far above chance counts as at chance"}
    """),
    runs=lambda s: [s["run"]],
    checked=lambda s, metric: f"{s['run']} ends at chance level (within {s['margin']:g}) or diverges",
    judge=_judge_chance,
    diverged_counts=True,
)


# ----------------------------------------------------------------------------- the hardest classes
def _hardest_tests(c: Claim, st: Study) -> list[PairedTest]:
    """Per run: the recall of the hardest other class minus that of the easiest claimed class,
    per seed; the claim holds where it is above zero."""
    split, classes = st.metric.split, c.spec["classes"]
    recalls = class_recalls(st.completed(st.evidence.confusion), split)
    tests = []
    for run in c.spec.get("runs") or list(st.values.columns):
        recall = recalls.get(run, pd.DataFrame())
        if recall.empty or not set(classes) <= set(recall.columns):
            gap = np.array([])
        else:
            gap = (recall.drop(columns=classes).min(axis=1) - recall[classes].max(axis=1)).to_numpy()
        label = f"{run}: hardest other class − easiest of {', '.join(classes)} ({split} recall)"
        tests.append(PairedTest(c.id, label, gap, "greater", unit="recall"))
    return tests


def _hardest_words(s: dict, metric: Metric | None) -> str:
    runs = f"for {', '.join(s['runs'])}" if s.get("runs") else "for every run"
    return f"{', '.join(s['classes'])}: lowest recall of every class, {runs}"


def _known_classes(spec: dict, known: Known) -> str:
    unknown = sorted(set(spec["classes"]) - set(known.classes))
    return f"classes: {unknown} not among the dataset's {known.classes}" if unknown else ""


HARDEST_CLASSES = ClaimKind(
    schema=_spec("""
        required: [classes]
        properties:
          classes: {type: array, items: {type: string}, minItems: 1, uniqueItems: true}
          runs: {type: array, items: {type: string}, minItems: 1, uniqueItems: true, description: "default: every run of the study"}
    """),
    runs=lambda s: list(s.get("runs", [])),
    checked=_hardest_words,
    tests=_hardest_tests,
    check=_known_classes,
    metric=lambda m: f"{m.split} recall of the best-val epoch",
)


# ----------------------------------------------------------------------------- gradient norms
def _layer_norms(grads: pd.DataFrame, ref: dict) -> pd.Series:
    """Per seed, the median over the run's records of its first or last layer's gradient norm."""
    g = grads[grads.model == ref["run"]]
    if g.empty:
        return pd.Series(dtype=float)
    depth = g.depth.min() if ref["layer"] == "first" else g.depth.max()
    return g[g.depth == depth].groupby("seed").grad_norm.median()


def _gradient_tests(c: Claim, st: Study) -> list[PairedTest]:
    a, b, grads = c.spec["a"], c.spec["b"], st.completed(st.evidence.grad_norms)
    ratio = np.log10(_layer_norms(grads, a) / _layer_norms(grads, b)).replace([np.inf, -np.inf], np.nan).dropna()
    label = f"log10 gradient-norm ratio, {a['run']} ({a['layer']} layer) / {b['run']} ({b['layer']} layer)"
    return [PairedTest(c.id, label, ratio.to_numpy(), "less", null=math.log10(c.spec["below"]), unit="log10 ratio")]


def _gradient_words(s: dict, metric: Metric | None) -> str:
    a, b = s["a"], s["b"]
    return (
        f"median gradient norm of {a['run']}'s {a['layer']} layer < {s['below']:g} x that of "
        f"{b['run']}'s {b['layer']} layer"
    )


GRADIENT_RATIO = ClaimKind(
    schema=_spec("""
        required: [a, b, below]
        properties:
          a: {$ref: "#/$defs/layer_ref"}
          b: {$ref: "#/$defs/layer_ref"}
          below: {type: number, exclusiveMinimum: 0, description: "claimed: median gradient norm of a / b < below (0.1: an order of magnitude)"}
    """),
    runs=lambda s: [s["a"]["run"], s["b"]["run"]],
    checked=_gradient_words,
    tests=_gradient_tests,
    check=_same_runs,
    metric=lambda m: "L2 norm of the layer's weight gradient, median over the records",
)


# ----------------------------------------------------------------------------- the convolution gate
GATE_METRIC = "max |ours − torch| (float64) per case, against a tolerance"


def _judge_conv_cases(c: Claim, st: Study) -> Judgement:
    s, cases = c.spec, st.evidence.conv_cases
    j = Judgement(c, CONV_CASES.checked(s, None), GATE_METRIC)
    sel = cases[cases.implementation.isin(s["implementations"])]
    sel = sel[sel.case.isin(s["cases"])] if s.get("cases") else sel
    failed = sel[~sel.passed.astype(bool)]
    j.n = len(sel)
    j.verdict = Verdict.CONTRADICTED if len(failed) else Verdict.REPRODUCED if len(sel) else Verdict.NOT_RUN
    names = ", ".join(f"{a} ({b})" for a, b in zip(failed.case, failed.implementation))
    j.evidence = f"{len(sel) - len(failed)} of {len(sel)} case x implementation checks pass" + (
        f"; failing: {names}" if names else ""
    )
    return j


def _known_cases(spec: dict, known: Known) -> str:
    unknown = sorted(set(spec.get("cases", [])) - set(known.cases))
    return f"cases: unknown case(s) {unknown}; known: {known.cases}" if unknown else ""


CONV_CASES = ClaimKind(
    schema=_spec("""
        required: [implementations]
        properties:
          cases: {type: array, items: {type: string}, minItems: 1, uniqueItems: true, description: "case names of src/cnnstudy/nets/conv_cases.py; default: every case"}
          implementations: {type: array, items: {enum: [naive, im2col, unfold]}, minItems: 1, uniqueItems: true}
    """),
    runs=lambda s: [],
    checked=lambda s, metric: (
        f"{', '.join(s['implementations'])} pass "
        + (f"the cases {', '.join(s['cases'])}" if s.get("cases") else "every case of the gate")
    ),
    judge=_judge_conv_cases,
    check=_known_cases,
    on_gate=True,
)


def _judge_conv_error(c: Claim, st: Study) -> Judgement:
    s, col = c.spec, f"l2_error_{c.spec['quantity']}"
    j = Judgement(c, CONV_ERROR.checked(s, None), "L2 norm of ours − torch's (float64), largest over the cases")
    sel = st.evidence.conv_cases
    sel = sel[sel.implementation == s["implementation"]].dropna(subset=[col])
    j.n = len(sel)
    if sel.empty:
        j.verdict, j.evidence = Verdict.NOT_RUN, f"no case computes {s['quantity']} with {s['implementation']}"
        return j
    worst = sel.loc[sel[col].idxmax()]
    j.verdict = Verdict.REPRODUCED if worst[col] <= s["bound"] else Verdict.CONTRADICTED
    j.evidence = f"largest over {len(sel)} cases: {worst[col]:.2e} (case {worst.case}); the report: {s['bound']:g}"
    return j


CONV_ERROR = ClaimKind(
    schema=_spec("""
        required: [implementation, quantity, bound]
        properties:
          implementation: {enum: [naive, im2col, unfold]}
          quantity: {enum: [output, grad_input, grad_weight, grad_bias]}
          bound: {type: number, exclusiveMinimum: 0, description: "claimed: the L2 norm of ours - torch's is at most this, on every case"}
    """),
    runs=lambda s: [],
    checked=lambda s, metric: (
        f"L2 norm of ours − torch's {s['quantity']} ({s['implementation']}) at most {s['bound']:g} on every case"
    ),
    judge=_judge_conv_error,
    on_gate=True,
)


KINDS: dict[str, ClaimKind] = {
    "difference": DIFFERENCE,
    "order": ORDER,
    "best": BEST,
    "number": NUMBER,
    "chance": CHANCE,
    "hardest_classes": HARDEST_CLASSES,
    "gradient_ratio": GRADIENT_RATIO,
    "conv_cases": CONV_CASES,
    "conv_error": CONV_ERROR,
}


def study_of(ev: Evidence, study: str, settings: Settings) -> Study:
    """What the claims of ``study`` are judged on."""
    runs = ev.runs[ev.runs.study == study]
    metric = study_metric(runs)
    return Study(ev, runs, metric, seed_table(runs, metric.column), settings)
