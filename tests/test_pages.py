import re

import numpy as np
import pandas as pd

from cnnstudy.report import front_page, pages


def test_table_page_is_self_contained_sortable_and_shows_every_cell():
    frame = pd.DataFrame({"run": ["a", "b"], "accuracy": [0.91234, np.nan], "n": [5, 1]})
    html = pages.html_table(frame, "Runs", "a note")
    assert html.count("<tr") == 3 and "0.9123" in html and "a note" in html
    assert 'addEventListener("click"' in html and not re.search(r"(src|href)=\"https?://", html)


def _tables():
    answers = pd.DataFrame(
        [
            dict(
                study="s",
                question="q?",
                answer="inconclusive",
                verdict="inconclusive",
                mean_difference=0.1,
                ci_low=-0.2,
                ci_high=0.4,
                n=3,
                metric="test accuracy",
            )
        ]  # fmt: skip
    )
    reported = pd.DataFrame(
        [
            dict(
                report="r1",
                study="s",
                model="m",
                claim="c2",
                reported="0.6",
                reported_metric="test accuracy",
                ours_mean=0.5,
                ci_low=0.45,
                ci_high=0.55,
                pi_low=0.35,
                pi_high=0.65,
                n=3,
                our_metric="test accuracy of the last epoch",
                matched_metric="last_test",
                decimals=2,
                pi_low_rounded=0.35,
                pi_high_rounded=0.65,
                diverged=0,
                reported_in_prediction_interval="yes",
            )
        ]  # fmt: skip
    )
    claims = pd.DataFrame(
        [
            dict(
                claim="c1",
                report="r1",
                study="s",
                kind="difference",
                quote="*net2* > net1 |a| {{x}} a_b_",
                checked="|a − b| < 0.01",
                verdict="reproduced",
                evidence="a − b: +0.1",
                n=3,
                our_metric="m",
                reported_metric="",
                set_up="the report's",
                robustness="fragile",
                flipped_by="seed 2 (without it: inconclusive)",
            ),
            dict(
                claim="c2",
                report="r1",
                study="s",
                kind="number",
                quote="60%",
                checked="one run",
                verdict="not run",
                evidence="m is not selected",
                n=0,
                our_metric="m",
                reported_metric="",
                set_up="the report's",
                robustness="",
                flipped_by="",
            ),
            dict(
                claim="c3",
                report="r2",
                study="",
                kind="conv_cases",
                quote="I fail 2 tests",
                checked="all pass",
                verdict="contradicted",
                evidence="grouping fails",
                n=3,
                our_metric="m",
                reported_metric="",
                set_up="the report's",
                robustness="",
                flipped_by="",
            ),
        ]  # fmt: skip
    )
    runs = pd.DataFrame([dict(study="s", seed=s, status="completed") for s in range(3)])
    return {"answers": answers, "reported": reported, "claims": claims, "runs": runs}


REPORTS = {"r1": {"title": "Report one", "file": "001.txt"}, "r2": {"title": "Report two", "file": "002.txt"}}


def _as_snakemake_renders(page: str) -> str:
    """Jinja, then docutils, as Snakemake's report renders its front page (with its link
    targets for result files appended)."""
    from docutils.core import publish_parts
    from jinja2 import Environment

    links = "\n".join(f".. _{name}: javascript:void(0)" for name in ("claims_r1.png", "errors.png"))
    return publish_parts(Environment().from_string(page + "\n\n" + links).render(), writer="html")["html_body"]


def test_front_page_opens_on_the_claims_per_report_with_a_demo_banner_and_renders_cleanly():
    page = front_page.render({"s": {"title": "A study", "source": "seed 9"}}, REPORTS, _tables(), True, "intro")
    assert page.index("Demo data") < page.index("Did it reproduce?") < page.index("A study") < page.index("intro")
    html = _as_snakemake_renders(page)
    assert "System Message" not in html and "{{x}}" in html  # quotes are literal: RST and Jinja both
    assert '<span class="reproduced">reproduced</span>' in html and '<span class="notrun">not run</span>' in html
    assert "1 of 2 claims reproduced" in html and "0 of 1 claims reproduced" in html
    assert re.search(r'<a class="reference external" href="javascript:void\(0\)">figure</a>', html)
    assert "0.5000 [0.3500, 0.6500]" in html and "+0.100 [-0.200, +0.400]" in html  # prediction and t intervals
    assert "precision [0.35, 0.65]" in html  # and the prediction interval at the report's 2 decimals
    assert "<em>fragile</em>: seed 2 (without it: inconclusive)" in html  # the seed that flips c1
    assert "align-items: flex-start" in html  # the page starts at its top in Snakemake's centring container
    assert "Demo data" not in front_page.render({"s": {"title": "A study"}}, REPORTS, _tables(), False, "")


def test_the_claim_counts_separate_the_reports_set_up_from_our_reading():
    tables = _tables()
    tables["claims"].loc[0, "set_up"] = "our reading"
    counts = front_page.counts_table(tables["claims"], REPORTS).set_index("report")
    assert len(counts) == len(REPORTS)  # one row a report: the table stays on the first screen
    assert counts.loc["r1: Report one", "claims"] == "1 / 1"  # on the report's set-up / on our reading
    assert counts.loc["r1: Report one", ":reproduced:`reproduced`"] == "0 / 1"
    html = _as_snakemake_renders(front_page.render({"s": {"title": "A study"}}, REPORTS, tables, False, ""))
    assert '<span class="reproduced">reproduced</span> (our reading)' in html
