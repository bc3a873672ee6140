"""The whole study in miniature (config/smoke.yaml over the full study and the demo): all 37
runs with 5 seeds each, 185 training jobs on the demo's twins, every claim judged, the report
built and read in a real browser. About 20 minutes on 2 cores: conftest runs it last (CI
runs it; CNNSTUDY_SMOKE=0 skips it)."""

import zipfile

import pandas as pd
import pytest
import test_report_browser as browser_checks
import yaml
from conftest import ROOT, job_counts, smk
from test_report_browser import SIZES, browser  # noqa: F401 - browser is a fixture

from cnnstudy.config import CONV_KINDS, all_claims, merge, runs
from cnnstudy.judging.verdicts import VERDICTS
from cnnstudy.records import ClaimRow, read_frame

pytestmark = pytest.mark.integration
CONFIGS = ("config.yaml", "demo.yaml", "smoke.yaml")


def smoke_config() -> dict:
    cfg = {}
    for name in CONFIGS:
        cfg = merge(cfg, yaml.safe_load((ROOT / "config" / name).read_text()))
    cfg["conv_tests"].update(
        timing_shapes=[[2, 3, 16, 16, 4, 3, 1, 0]], timing_repeats=1
    )  # the gate's timing is not the point
    return cfg


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("smoke")
    (work / "smoke.yaml").write_text(yaml.safe_dump(smoke_config(), sort_keys=False))
    planned = job_counts(smk(work, "-n", "--configfile", "smoke.yaml").stdout)
    smk(work, "--cores", "2", "--configfile", "smoke.yaml")
    return work, planned


@pytest.fixture(scope="session")
def smoke_report(smoke_run):
    """The full study's report as make report builds it: Snakemake's zip report (a single HTML
    file of the full study is too large to open quickly), extracted as a reader would."""
    work, _ = smoke_run
    (work / "report").mkdir(exist_ok=True)
    smk(work, "--configfile", "smoke.yaml", "--report", "report/report.zip")
    with zipfile.ZipFile(work / "report" / "report.zip") as archive:
        archive.extractall(work / "unzipped")
    return work / "unzipped" / "report" / "report.html"


def test_the_smoke_config_is_the_whole_study_at_five_seeds():
    from cnnstudy.config import validate

    cfg = validate(smoke_config())
    full = validate(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    assert len(runs(cfg)) == len(runs(full)) == 185
    assert {(s, r) for s, r, _ in runs(cfg)} == {(s, r) for s, r, _ in runs(full)}
    assert len(all_claims(cfg)) == len(all_claims(full)) == 46


@pytest.mark.smoke
def test_every_run_of_the_study_trained_five_seeds(smoke_run):
    work, planned = smoke_run
    assert planned["train"] == 185
    table = pd.read_csv(work / "results" / "tables" / "runs.csv")
    seeds = table.groupby(["study", "model"]).seed.nunique()
    assert len(seeds) == 37 and (seeds == 5).all(), seeds[seeds != 5]
    diverged = set(table[table.status == "diverged"].model)
    assert set(table.status) <= {"completed", "diverged"} and diverged <= {"lenet_high_lr"}, diverged


@pytest.mark.smoke
def test_every_claim_has_a_verdict_on_five_seeds_or_says_why_not(smoke_run):
    work, _ = smoke_run
    claims = read_frame(ClaimRow, work / "results" / "tables" / "claims.csv")
    assert len(claims) == 46 and set(claims.verdict) <= set(VERDICTS)
    judged = claims[(claims.verdict != "not run") & ~claims.kind.isin(CONV_KINDS)]
    assert len(judged) >= 40 and (judged.n == 5).all(), judged[judged.n != 5][["claim", "n", "evidence"]]
    for row in claims[claims.verdict == "not run"].itertuples():
        assert "diverged on all 5 seeds" in row.evidence, (row.claim, row.evidence)  # the demo's diverging run


@pytest.mark.smoke
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_browser_checks_hold_on_the_full_size_report(browser, smoke_report, size):  # noqa: F811
    browser_checks.test_front_page_is_readable_from_its_top_with_banner_and_claim_counts(browser, smoke_report, size)
    if size == SIZES[1]:
        browser_checks.test_every_category_opens_every_image_decodes_and_nothing_comes_from_the_network(
            browser, smoke_report
        )
