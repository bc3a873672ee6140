"""The report's front page: per study, its title and source, the headline answers with their
intervals and ours beside the report's numbers, as tables a reader sees without clicking;
a banner when the numbers come from the demo's generated data."""

from __future__ import annotations

import math

import pandas as pd

DEMO_BANNER = """.. warning::

   **Demo data.** These numbers come from small generated twins of the datasets
   (``config/demo.yaml``), not from CIFAR-10, MNIST, Imagenette or COCO: they show that every
   stage of the pipeline works, not whether the reports' claims hold. Run ``config/config.yaml``
   for the study itself.
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return str(value).replace("\n", " ")


def list_table(frame: pd.DataFrame, title: str = "") -> str:
    """An RST list-table of ``frame`` (docutils renders it as an HTML table)."""
    lines = [f".. list-table:: {title}".rstrip(), "   :header-rows: 1", ""]
    for row in [list(frame.columns), *frame.itertuples(index=False)]:
        cells = [_cell(v) for v in row]
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {c}" for c in cells[1:]]
    return "\n".join(lines) + "\n"


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


def versus_table(reported: pd.DataFrame) -> pd.DataFrame:
    ours = [
        "diverged"
        if r.n == 0 and r.diverged
        else f"{r.ours_mean:.3f}" + ("" if pd.isna(r.ci_low) else f" [{r.ci_low:.3f}, {r.ci_high:.3f}]")
        for r in reported.itertuples()
    ]
    return pd.DataFrame(
        {
            "run": reported.model,
            "report": reported.reported,
            "report's metric": reported.reported_metric,
            "ours [95% interval]": ours,
            "our metric": reported.our_metric,
            "n": reported.n,
            "report inside ours?": reported.reported_inside_ours,
        }
    )


def study_section(study: str, spec: dict, answers: pd.DataFrame, reported: pd.DataFrame, runs: pd.DataFrame) -> str:
    title = spec.get("title", study)
    diverged = int((runs.status == "diverged").sum())
    head = [title, "~" * len(title), ""]
    head.append(
        f"*Reproduces* {spec.get('source', '?')}. *Study key* ``{study}``: {len(runs)} runs over "
        f"{runs.seed.nunique()} seed(s), {diverged} diverged (left out of every mean)."
    )
    parts = ["\n".join(head), ""]
    if len(answers):
        parts.append(list_table(answers_table(answers), "the report's questions, answered from the data"))
    if len(reported):
        parts.append(list_table(versus_table(reported), "ours beside the report's numbers"))
    return "\n".join(parts)


def render(
    studies: dict, answers: pd.DataFrame, reported: pd.DataFrame, runs: pd.DataFrame, demo: bool, intro: str
) -> str:
    """The front page: banner, results per study, then the static description of the pipeline."""
    out = ["CNN study reproduction", "=" * 22, ""]
    if demo:
        out.append(DEMO_BANNER)
    out += [
        "Every answer is a paired difference over seeds with its 95 % t interval; where the",
        "interval covers zero, or fewer than two seeds give none, the verdict is *inconclusive*.",
        "",
        "Results at a glance",
        "-------------------",
        "",
    ]
    for study, spec in studies.items():
        of_study = [t[t.study == study] for t in (answers, reported, runs)]
        out.append(study_section(study, spec, *of_study))
    out += ["", "The pipeline", "------------", "", intro]
    return "\n".join(out)
