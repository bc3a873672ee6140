"""The report's front page: did it reproduce? Per source report, how many of its claims were
reproduced, contradicted, inconclusive or not run, then every claim with its verdict and
evidence; then, per study, the config's questions answered and ours beside the report's
numbers; a banner when the numbers come from the demo's generated data.

Snakemake's report shows this page beside the rule graph in a container that centres it
vertically (a page taller than the screen loses its top) in a 32 rem column; the page's own
style block, which lives only while the page is shown, starts it at the top and widens it.
"""

from __future__ import annotations

import math

import pandas as pd

from cnnstudy.comparing.compare import NUMBER_TEST
from cnnstudy.escape import rst_text
from cnnstudy.judging.claims import SET_UPS
from cnnstudy.report.pages import VERDICT_COLORS

STYLE = """.. raw:: html

   <style>
   div.grow.flex.items-center.justify-center.h-screen { align-items: flex-start; justify-content: flex-start; }
   div.grow.flex.gap-3.p-3.items-start { flex-wrap: wrap; }
   div.grow.flex.gap-3.p-3.items-start > div.py-2 { flex: 1 1 100%; min-width: 0; }
   div.prose.max-w-lg { max-width: 100%; }
   div.prose table { width: 100%; font-size: 0.8rem; }
   div.prose td, div.prose th { vertical-align: top; padding: 0.25rem 0.4rem; }
   div.prose td { overflow-wrap: break-word; }
   div.prose .admonition.warning { border-left: 4px solid #9a6700; background: #fff8c5; padding: 0.1rem 0.8rem; }
   {verdict_css}
   </style>

""" + "\n".join(f".. role:: {name.replace(' ', '')}" for name in VERDICT_COLORS)

DEMO_BANNER = """.. warning::

   **Demo data.** These verdicts are about small generated twins of the datasets
   (``config/demo.yaml`` over ``config/config.yaml``), not CIFAR-10, MNIST, Imagenette or COCO:
   they show every stage working and how claims are judged, not whether the reports' claims
   hold. Run ``config/config.yaml`` alone for the study itself.
"""

METHOD = """Each claim of the five reports is judged from our runs. Differences are paired t tests over
seeds, with the p-values of one report's tests adjusted together (Holm): *reproduced* where
every test is significant in the claimed direction, *contradicted* only where one is
significant against it, else *inconclusive* (with the seeds that would resolve it). A
report's number is compared with where one run of ours falls (95 % prediction interval on the
logit scale, so inside [0, 1], rounded outward to the report's precision) on our record of
the same metric (the last epoch's val or test accuracy, or the best epoch's where the report
gives its best); an interval wider than a quarter of the range judges nothing. A seed that
collapsed to chance is counted and the claim judged with and without it: *inconclusive*
where the two differ. A conclusive verdict of tests is judged again with each seed left out
in turn: *robust* where every such subset gives the same verdict, else *fragile*, naming the
seed that flips it. *(our reading)* marks a verdict on a set-up the report leaves open and
we chose. *Not run* says why (a run not selected, or diverged on every seed)."""


def _cell(value, markup: bool) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return str(value) if markup else rst_text(value)


def list_table(frame: pd.DataFrame, title: str = "", markup: tuple = ()) -> str:
    """An RST list-table of ``frame`` (docutils renders it as an HTML table). Headers are the
    page's own labels; cells are text, escaped, except in the ``markup`` columns, whose cells
    the page built itself (a role, a link, italics around an escaped quote)."""
    lines = [f".. list-table:: {rst_text(title)}".rstrip(), "   :header-rows: 1", "   :widths: auto", ""]
    lines += [f"   * - {frame.columns[0]}", *[f"     - {c}" for c in frame.columns[1:]]]
    for row in frame.itertuples(index=False):
        cells = [_cell(v, col in markup) for v, col in zip(row, frame.columns)]
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {c}" for c in cells[1:]]
    return "\n".join(lines) + "\n"


def heading(text: str, underline: str) -> list[str]:
    escaped = rst_text(text)
    return [escaped, underline * len(escaped), ""]


def verdict_role(verdict: str) -> str:
    return f":{verdict.replace(' ', '')}:`{verdict}`"


def verdict_cell(claim) -> str:
    """The verdict in colour; under our reading of the set-up, said beside it; a conclusive
    verdict robust or fragile to leaving one seed out (and the seeds that flip it)."""
    cell = verdict_role(claim.verdict) + (" (our reading)" if claim.set_up == SET_UPS[1] else "")
    if claim.robustness == "robust":
        cell += ", robust to leaving out any one seed"
    elif claim.robustness:
        cell += f", *fragile*: {rst_text(claim.flipped_by)}"
    return cell


def counts_table(claims: pd.DataFrame, reports: dict) -> pd.DataFrame:
    """Per report, how many claims got each verdict, as "on the report's set-up / on our
    reading of what it leaves open" (one row a report: the table stays on the first screen)."""
    rows = []
    for report, spec in reports.items():
        c = claims[claims.report == report]
        split = [c[c.set_up == set_up] for set_up in SET_UPS]
        row = {"report": f"{report}: {spec['title']}", "claims": " / ".join(str(len(s)) for s in split)}
        row.update(
            {verdict_role(v): " / ".join(str(int((s.verdict == v).sum())) for s in split) for v in VERDICT_COLORS}
        )
        rows.append(row)
    return pd.DataFrame(rows)


def figure_of(claim) -> str:
    """The report's result that shows a claim: its report's claims figure, or the convolution
    errors for the convolution claims (file names are the report's link targets)."""
    target = "errors.png" if not claim.study else f"claims_{claim.report}.png"
    return f"`figure <{target}_>`_"


def quoted(quote: str, claim: str) -> str:
    """A report's words in italics, then the claim's id (markup around escaped text)."""
    words = rst_text(quote)
    return f"*{words}* ({rst_text(claim)})" if words else f"({rst_text(claim)})"


CLAIMS_MARKUP = ("claim (the report's words)", "verdict", "figure")


def claims_rows(claims: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "claim (the report's words)": [quoted(c.quote, c.claim) for c in claims.itertuples()],
            "we checked": list(claims.checked),
            "verdict": [verdict_cell(c) for c in claims.itertuples()],
            "evidence": list(claims.evidence),
            "figure": [figure_of(c) for c in claims.itertuples()],
        }
    )


def summary_line(claims: pd.DataFrame) -> str:
    n = {v: int((claims.verdict == v).sum()) for v in VERDICT_COLORS}
    return (
        f"**{n['reproduced']} of {len(claims)} claims reproduced**, {n['contradicted']} contradicted, "
        f"{n['inconclusive']} inconclusive, {n['not run']} not run."
    )


def report_section(report: str, spec: dict, claims: pd.DataFrame) -> str:
    parts = heading(f"{report}: {spec['title']}", "~") + [f"{rst_text(spec['file'])}. {summary_line(claims)}", ""]
    if len(claims):
        parts.append(list_table(claims_rows(claims), markup=CLAIMS_MARKUP))
    return "\n".join(parts)


def _interval(row) -> str:
    if pd.isna(row.mean_difference):
        return ""
    if pd.isna(row.ci_low):
        return f"{row.mean_difference:+.3f} (no interval)"
    return f"{row.mean_difference:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}]"


def answers_table(answers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": answers.question,
            "answer": answers.answer,
            "verdict": answers.verdict,
            "difference [95% interval]": [_interval(r) for r in answers.itertuples()],
            "n": answers.n,
            "metric": answers.metric,
        }
    )


def _ours(r) -> str:
    """Our mean and where one run of ours falls, at the report's precision and two digits more."""
    if r.n == 0 and r.diverged:
        return "diverged"
    if pd.isna(r.ours_mean):
        return "none"
    d = int(r.decimals) + 2
    text = f"{r.ours_mean:.{d}f}"
    if pd.notna(r.pi_low):
        text += f" [{r.pi_low:.{d}f}, {r.pi_high:.{d}f}]"
    if pd.notna(r.pi_low_rounded):
        k = int(r.decimals)
        text += f", at the report's precision [{r.pi_low_rounded:.{k}f}, {r.pi_high_rounded:.{k}f}]"
    return text


def versus_table(reported: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run": reported.model,
            "report": reported.reported,
            "report's metric": reported.reported_metric.fillna(""),
            "ours [one run: 95% prediction interval]": [_ours(r) for r in reported.itertuples()],
            "our record (the same metric)": reported.our_metric,
            "n": reported.n,
            "report inside?": reported.reported_in_prediction_interval,
        }
    )


def study_section(study: str, spec: dict, answers: pd.DataFrame, reported: pd.DataFrame, runs: pd.DataFrame) -> str:
    diverged = int((runs.status == "diverged").sum())
    head = heading(spec.get("title", study), "~")
    head.append(
        f"*Reproduces* {rst_text(spec.get('source', '?'))}. *Study key* ``{study}``: {len(runs)} runs over "
        f"{runs.seed.nunique()} seed(s), {diverged} diverged (left out of every mean)."
    )
    if len(runs) and diverged == len(runs):
        head.append(
            "**Every run diverged**: no metric, interval or comparison exists; the curves show each run's history."
        )
    parts = ["\n".join(head), ""]
    if len(answers):
        parts.append(list_table(answers_table(answers), "the config's questions, answered from the data"))
    if len(reported):
        parts.append(list_table(versus_table(reported), "ours beside the report's numbers"))
    return "\n".join(parts)


def _changed_verdicts(verdicts: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "claim": verdicts.claim,
            "report": verdicts.report,
            "reference -> ours": [
                f"{verdict_role(r.reference) if r.reference != 'absent' else 'absent'} -> "
                + (verdict_role(r.ours) if r.ours != "absent" else "absent")
                for r in verdicts.itertuples()
            ],
            "note": verdicts.basis,
        }
    )


def _moved_numbers(numbers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run": [f"{r.study}/{r.model}" for r in numbers.itertuples()],
            "metric": numbers.metric,
            "reference (n)": [f"{r.reference_mean:.4f} ({r.reference_n})" for r in numbers.itertuples()],
            "ours (n)": [f"{r.ours_mean:.4f} ({r.ours_n})" for r in numbers.itertuples()],
            "difference": [f"{d:+.4f}" for d in numbers.difference],
            "Holm p": [f"{p:.2g}" for p in numbers.p_holm],
        }
    )


def reference_section(reference: dict, claims: int) -> str:
    """Ours against the reference run: the claims whose verdict changed (and those judged on
    other data or code), the runs whose metric moved beyond seed noise, both provenances."""
    verdicts, numbers, provenance = reference["verdicts"], reference["numbers"], reference["provenance"]
    changed, moved = verdicts[verdicts.changed.astype(bool)], numbers[numbers.beyond_noise.astype(bool)]
    source = provenance.set_index("field").reference.get("source", "")
    parts = heading("Against the reference", "~")
    parts += [
        f"Reference: {rst_text(source)} (config key ``reference``). **{len(changed)} of {claims} claims changed "
        f"verdict**; {len(moved)} of {len(numbers)} runs' headline metric moved beyond seed noise ({NUMBER_TEST}).",
        "",
    ]
    shown = verdicts[verdicts.changed.astype(bool) | (verdicts.basis != "")]
    if len(shown):
        parts.append(list_table(_changed_verdicts(shown), "claims whose verdict changed, or judged on another basis",
                                markup=("reference -> ours",)))  # fmt: skip
    if len(moved):
        parts.append(list_table(_moved_numbers(moved), "runs whose metric moved beyond seed noise"))
    parts.append(list_table(provenance.rename(columns={"field": "provenance"}), "the two runs"))
    return "\n".join(parts)


def _style() -> str:
    css = " ".join(
        f"span.{v.replace(' ', '')} {{ color: {c}; font-weight: 600; white-space: nowrap; }}"
        for v, c in VERDICT_COLORS.items()
    )
    return STYLE.replace("{verdict_css}", css)


def render(studies: dict, reports: dict, tables: dict, demo: bool, intro: str) -> str:
    """The front page; ``tables`` holds the runs, answers, claims and vs_reported tables (and
    ``reference``: the comparison's verdicts, numbers and provenance tables, where given). Every
    free string in it is escaped (:func:`cnnstudy.escape.rst_text`: no Jinja delimiter can form
    from one); the raw block also keeps the page's own CSS braces from Jinja."""
    claims, runs = tables["claims"], tables["runs"]
    out = ["{% raw %}", _style(), "", "CNN study reproduction", "=" * 22, ""]
    if demo:
        out.append(DEMO_BANNER)
    out += ["Did it reproduce?", "-----------------", ""]
    out.append(list_table(counts_table(claims, reports), "claims per source report (on its set-up / on our reading)"))
    if tables.get("reference"):
        out.append(reference_section(tables["reference"], len(claims)))
    out += [METHOD, ""]
    for report, spec in reports.items():
        out.append(report_section(report, spec, claims[claims.report == report]))
    out += ["Results per study", "-----------------", ""]
    for study, spec in studies.items():
        of_study = [t[t.study == study] for t in (tables["answers"], tables["reported"], runs)]
        out.append(study_section(study, spec, *of_study))
    out += ["", "The pipeline", "------------", "", intro, "{% endraw %}"]
    return "\n".join(out)
