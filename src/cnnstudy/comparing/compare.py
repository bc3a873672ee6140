"""Our run of the study against a reference run (a bundle or a results folder): every claim
whose verdict changed, every run whose headline metric moved beyond seed noise (Welch's t over
the two runs' seeds, Holm-adjusted over the runs compared), and the two runs' provenance side
by side. A claim the two judged on other data or training code says so instead of being
compared silently."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnstudy.comparing.bundle import Bundle
from cnnstudy.judging.statistics import ALPHA
from cnnstudy.judging.tables import study_metric
from cnnstudy.records import NumberChangeRow, ProvenanceRow, VerdictChangeRow, frame

NUMBER_TEST = "Welch's t over the two runs' seeds, Holm-adjusted over the runs compared"
ABSENT = "absent"


@dataclass(frozen=True)
class Comparison:
    """What differs between a reference run and ours."""

    verdicts: list  # VerdictChangeRow: changed verdicts, and claims judged on another basis
    numbers: list  # NumberChangeRow: every run of both, tested
    provenance: list  # ProvenanceRow

    @property
    def changed(self) -> list:
        return [v for v in self.verdicts if v.changed]

    @property
    def moved(self) -> list:
        return [n for n in self.numbers if n.beyond_noise]

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"verdicts": frame(VerdictChangeRow, self.verdicts), "numbers": frame(NumberChangeRow, self.numbers),
                "provenance": frame(ProvenanceRow, self.provenance)}  # fmt: skip


def _basis(summaries: list) -> dict:
    """Per study: the data digests and training code its runs were judged on."""
    out: dict = {}
    for s in summaries:
        entry = out.setdefault(s.study, {"data": set(), "code": set()})
        entry["data"].add(json.dumps(s.data_sha256, sort_keys=True))
        entry["code"].add(s.code_sha256)
    return out


def _basis_note(study: str, reference: dict, ours: dict) -> str:
    if not study or study not in reference or study not in ours:
        return ""
    notes = [f"judged on other {what}" for what, key in (("data", "data"), ("training code", "code"))
             if reference[study][key] != ours[study][key]]  # fmt: skip
    return "; ".join(notes)


def verdict_changes(reference: Bundle, ours: Bundle) -> list[VerdictChangeRow]:
    old = reference.tables["claims"].set_index("claim")
    new = ours.tables["claims"].set_index("claim")
    ref_basis, our_basis = _basis(reference.summaries), _basis(ours.summaries)
    rows = []
    for claim in [*new.index, *[c for c in old.index if c not in new.index]]:
        side = new.loc[claim] if claim in new.index else old.loc[claim]
        was = old.verdict.get(claim, ABSENT)
        now = new.verdict.get(claim, ABSENT)
        basis = _basis_note(side.study, ref_basis, our_basis)
        if was != now or basis:
            rows.append(VerdictChangeRow(claim, side.report, side.study, was, now, was != now, basis))
    return rows


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Welch's two-sided p; NaN where a side has under 2 seeds."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    from scipy import stats

    flat_a, flat_b = np.ptp(a) == 0, np.ptp(b) == 0
    if flat_a and flat_b:  # no spread on either side (no t): equal, or apart
        return 1.0 if a[0] == b[0] else 0.0
    if flat_a or flat_b:  # Welch's t and df with one variance 0 are the other side's one-sample test;
        # scipy's two-sample test would warn of precision loss on the constant side (seeds all at chance)
        spread, constant = (b, a[0]) if flat_a else (a, b[0])
        return float(stats.ttest_1samp(spread, constant).pvalue)
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def _values(runs: pd.DataFrame, model: str, column: str) -> np.ndarray:
    ok = runs[(runs.model == model) & (runs.status != "diverged")]
    return ok[column].dropna().to_numpy(dtype=float)


def number_changes(reference: Bundle, ours: Bundle) -> list[NumberChangeRow]:
    """Every run in both: its study's headline metric (ours decides which), tested."""
    from statsmodels.stats.multitest import multipletests

    old, new = reference.tables["runs"], ours.tables["runs"]
    rows = []
    for study, runs in new.groupby("study", sort=True):
        metric = study_metric(runs)
        for model in sorted(set(runs.model) & set(old[old.study == study].model)):
            a = _values(old[old.study == study], model, metric.column)
            b = _values(runs, model, metric.column)
            rows.append(dict(study=study, model=model, metric=metric.label, reference_mean=_mean(a),
                             ours_mean=_mean(b), difference=_mean(b) - _mean(a), reference_n=len(a), ours_n=len(b),
                             p=_welch_p(a, b)))  # fmt: skip
    tested = [r for r in rows if np.isfinite(r["p"])]
    holm = multipletests([r["p"] for r in tested], method="holm")[1] if tested else []
    for r, p in zip(tested, holm):
        r["p_holm"] = float(p)
    return [NumberChangeRow(**{"p_holm": math.nan, **r}, beyond_noise=r.get("p_holm", 1.0) < ALPHA) for r in rows]


def _mean(v: np.ndarray) -> float:
    return float(v.mean()) if len(v) else math.nan


PROVENANCE_FIELDS = {
    "source": lambda b: b.source,
    "commit": lambda b: b.provenance.commit,
    "created (UTC)": lambda b: b.provenance.created,
    "config sha256": lambda b: b.provenance.config_sha256[:16],
    "tables code sha256": lambda b: b.provenance.tables_code_sha256[:16],
    "training code sha256": lambda b: ", ".join(c[:16] for c in b.provenance.training_code_sha256),
    "data": lambda b: ", ".join(f"{d} {v.get('structure', '')[:12]}" for d, v in b.provenance.data_sha256.items()),
    "devices": lambda b: ", ".join(b.provenance.devices),
    "runs": lambda b: str(b.provenance.runs),
    "torch": lambda b: b.provenance.versions.get("torch", ""),
}


def compare(reference: Bundle, ours: Bundle) -> Comparison:
    provenance = [ProvenanceRow(name, get(reference), get(ours)) for name, get in PROVENANCE_FIELDS.items()]
    return Comparison(verdict_changes(reference, ours), number_changes(reference, ours), provenance)


def text(c: Comparison, claims: int) -> str:
    """The comparison for a terminal: provenance side by side, changed verdicts, moved numbers."""
    prov = frame(ProvenanceRow, c.provenance).set_index("field")
    lines = ["Provenance (reference | ours):", prov.to_string(), ""]
    lines.append(f"Verdicts: {len(c.changed)} of {claims} claims changed")
    lines += [f"  {v.claim} ({v.report}): {v.reference} -> {v.ours}" + (f" [{v.basis}]" if v.basis else "")
              for v in c.changed]  # fmt: skip
    other = [v for v in c.verdicts if not v.changed]
    lines += [f"  {v.claim} ({v.report}): {v.ours}, the same verdict, but {v.basis}" for v in other]
    lines += ["", f"Numbers beyond seed noise ({NUMBER_TEST}): {len(c.moved)} of {len(c.numbers)} runs"]
    lines += [f"  {n.study}/{n.model} ({n.metric}): {n.reference_mean:.4f} (n = {n.reference_n}) -> {n.ours_mean:.4f}"
              f" (n = {n.ours_n}), {n.difference:+.4f}, Holm p = {n.p_holm:.2g}" for n in c.moved]  # fmt: skip
    return "\n".join(lines)
