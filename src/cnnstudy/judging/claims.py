"""The reports' claims judged from our runs: each one reproduced, contradicted, inconclusive or
not run, with its evidence.

A claim is data in the config (:class:`cnnstudy.config.Claim`); what each kind of claim
names, says and tests is its entry in :mod:`cnnstudy.judging.kinds`. Claims about
differences become paired t tests over seeds (runs of a study share their seeds); the
p-values of one report's tests are adjusted together (Holm), and a claim is contradicted only
where a test is significant against the claimed direction. A report's single number is
compared with where one run of ours would fall, on the record that measures what the report
measured (the claim's ``metric``): the 95 % t prediction interval on the logit scale (it
stays inside [0, 1]), rounded outward to the report's precision; an interval wider than
``max_interval_width`` judges nothing. A seed that collapsed to chance is judged with and
without: where the two verdicts differ the claim is inconclusive. A claim on a set-up the
report leaves open says it is judged under our reading. Convolution claims are checked on the
gate's table.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from cnnstudy.config import Claim, claim_runs
from cnnstudy.judging.kinds import GATE_METRIC, KINDS, Evidence, Judgement, Settings, Study, study_of
from cnnstudy.judging.statistics import PairedTest, adjust
from cnnstudy.judging.verdicts import VERDICTS, Outcome, Robustness, Verdict
from cnnstudy.records import ClaimRow, ClaimTestRow, NumberRow, columns, frame

__all__ = ["Evidence", "Judgement", "Settings", "judge", "claims_table", "tests_table", "versus_reported", "counts"]

METHOD = (
    "Differences: paired t tests over seeds, p-values Holm-adjusted within each report; contradicted only where a "
    "test is significant against the claimed direction. A report's number: inside or outside the 95 % prediction "
    "interval of one run of ours (logit scale, inside [0, 1]) on the record matching the report's metric, at the "
    "report's precision; too wide an interval is inconclusive. Collapsed seeds: judged with and without. "
    "Inconclusive differences say how many seeds would resolve them at 80 % power. Reproduced or contradicted "
    "differences: robust where leaving any one seed out keeps the verdict, else fragile (the seeds that flip it)."
)


def _verdict_of_tests(tests: list[PairedTest]) -> Verdict:
    outcomes = {t.outcome for t in tests}
    if Outcome.CONTRADICTS in outcomes:
        return Verdict.CONTRADICTED
    if outcomes == {Outcome.SUPPORTS}:
        return Verdict.REPRODUCED
    return Verdict.NOT_RUN if outcomes == {Outcome.NO_DATA} else Verdict.INCONCLUSIVE


def _not_run_reason(c: Claim, runs: pd.DataFrame) -> str:
    """Why a study claim cannot be judged at all, or ''."""
    if runs.empty:
        return f"study {c.study} is not selected in this config (key select)"
    for run in dict.fromkeys(claim_runs(c)):
        rows = runs[runs.model == run]
        if rows.empty:
            return f"{run} is not selected in this config (key select)"
        if not KINDS[c.kind].diverged_counts and (rows.status == "diverged").all():
            return f"{run} diverged on all {len(rows)} seeds"
    return ""


def _metric_note(c: Claim, ours: str) -> str:
    return f"the report: {c.reported_metric}; ours: {ours}" if c.reported_metric else f"ours: {ours}"


def _start(c: Claim, ev: Evidence, settings: Settings) -> Judgement:
    """A claim's judgement, or its tests waiting for the report's Holm adjustment."""
    kind = KINDS[c.kind]
    if kind.on_gate:
        if ev.conv_cases.empty:
            return Judgement(c, kind.checked(c.spec, None), GATE_METRIC, Verdict.NOT_RUN,
                             "the convolution gate's table is empty")  # fmt: skip
        return kind.judge(c, Study(ev, ev.runs.iloc[:0], None, pd.DataFrame(), settings))
    st = study_of(ev, c.study, settings)
    reason = _not_run_reason(c, st.runs)
    if reason:
        return Judgement(c, kind.checked(c.spec, st.metric), st.metric.label, Verdict.NOT_RUN, reason)
    if kind.judge is not None:
        return kind.judge(c, st)
    label = kind.metric(st.metric) if kind.metric else st.metric.label
    return Judgement(c, kind.checked(c.spec, st.metric), label, tests=kind.tests(c, st))


def _finish(j: Judgement) -> None:
    j.verdict = _verdict_of_tests(j.tests)
    j.n = min(t.n for t in j.tests)
    j.evidence = "; ".join(t.describe() for t in j.tests)
    if j.verdict is Verdict.NOT_RUN:
        j.evidence = "no seed where the compared runs all completed: " + j.evidence


def _judge_family(claims: list[Claim], ev: Evidence, settings: Settings) -> list[Judgement]:
    """Every claim's verdict on ``ev``; the tests of one report are Holm-adjusted together."""
    judgements = [_start(c, ev, settings) for c in claims]
    for report in dict.fromkeys(c.report for c in claims):
        adjust([t for j in judgements if j.claim.report == report and j.verdict is None for t in j.tests])
    for j in judgements:
        if j.verdict is None:
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
    j.verdict = Verdict.INCONCLUSIVE


def _judged(claims: list[Claim], ev: Evidence, settings: Settings) -> list[Judgement]:
    """Every claim's verdict on ``ev``, the collapsed seeds reconciled, the evidence worded."""
    judgements = _judge_family(claims, ev, settings)
    collapsed = ev.runs.collapsed.astype(bool)
    if collapsed.any():
        without = _judge_family(claims, dataclasses.replace(ev, runs=ev.runs[~collapsed]), settings)
        for j, alt in zip(judgements, without):
            j.collapsed = collapsed_text(j.claim, ev.runs) if j.claim.study else ""
            if j.collapsed and j.verdict is not Verdict.NOT_RUN:
                _reconcile(j, alt)
    for j in judgements:
        if j.claim.study and j.verdict is not Verdict.NOT_RUN:
            j.evidence += f" ({_metric_note(j.claim, j.metric)})"
        if j.claim.reading and j.verdict is not Verdict.NOT_RUN:
            j.evidence = f"Under our reading of the set-up ({j.claim.reading}): {j.evidence}"
    return judgements


CONCLUSIVE = (Verdict.REPRODUCED, Verdict.CONTRADICTED)


def _leave_one_out(judgements: list[Judgement], claims: list[Claim], ev: Evidence, settings: Settings) -> None:
    """Each conclusive verdict of paired tests judged again with each seed left out of every run
    (the same Holm families): *robust* where every subset gives the same verdict, else *fragile*
    with the seeds that flip it and what they flip it to."""
    held = [j for j in judgements if j.tests and j.verdict in CONCLUSIVE]
    if not held:
        return
    for seed in sorted(ev.runs.seed.unique()):
        without = _judged(claims, dataclasses.replace(ev, runs=ev.runs[ev.runs.seed != seed]), settings)
        for j, alt in zip(judgements, without):
            if j in held and alt.verdict != j.verdict:
                j.flipped_by.append(f"seed {seed} (without it: {alt.verdict})")
    for j in held:
        j.robustness = Robustness.FRAGILE if j.flipped_by else Robustness.ROBUST


def judge(claims: list[Claim], ev: Evidence, settings: Settings | None = None) -> list[Judgement]:
    """Every claim's verdict. Where a claim rests on a seed that collapsed to chance, it is
    judged again without the collapsed seeds (the same Holm families): a verdict that changes
    becomes inconclusive, saying both. A claim on our reading of an open set-up says so. A
    conclusive verdict of paired tests is marked robust or fragile to leaving one seed out."""
    settings = settings or Settings()
    judgements = _judged(claims, ev, settings)
    _leave_one_out(judgements, claims, ev, settings)
    return judgements


# ----------------------------------------------------------------------------- tables
SET_UPS = ("the report's", "our reading")  # a claim's runs as the report states them, or as we had to choose
CLAIM_COLUMNS, TEST_COLUMNS, NUMBER_COLUMNS = columns(ClaimRow), columns(ClaimTestRow), columns(NumberRow)


def claims_table(judgements: list[Judgement]) -> pd.DataFrame:
    rows = [
        ClaimRow(claim=j.claim.id, report=j.claim.report, study=j.claim.study, kind=j.claim.kind, quote=j.claim.quote,
                 checked=j.checked, verdict=j.verdict.value, set_up=SET_UPS[bool(j.claim.reading)], evidence=j.evidence,
                 n=j.n, collapsed=j.collapsed, our_metric=j.metric, reported_metric=j.claim.reported_metric,
                 reading=j.claim.reading, robustness=j.robustness.value if j.robustness else "",
                 flipped_by="; ".join(j.flipped_by))
        for j in judgements
    ]  # fmt: skip
    return frame(ClaimRow, rows)


def _test_row(j: Judgement, t: PairedTest) -> ClaimTestRow:
    iv = t.interval()
    return ClaimTestRow(claim=j.claim.id, report=j.claim.report, study=j.claim.study, label=t.label, unit=t.unit,
                        direction=t.direction, null=t.null, margin=t.margin, mean=iv.mean, ci_low=iv.low,
                        ci_high=iv.high, n=iv.n, p=t.p, p_holm=t.p_holm, outcome=t.outcome.value,
                        seeds_needed=t.seeds_needed, verdict=j.verdict.value)  # fmt: skip


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
