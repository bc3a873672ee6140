"""The demo rerun against its own first bundle, as a user checks an edit: two runs' settings
changed and ``reference:`` set to the bundle of the run before. Only those runs retrain, and
the front page names exactly the claims whose verdict changed (read independently from the two
claims tables), as ``python -m cnnstudy compare`` does."""

import shutil
import subprocess
import sys

import pytest
import test_report_browser as browser_checks
import yaml
from conftest import job_counts, smk
from test_report_browser import browser  # noqa: F401 - the fixture

from cnnstudy.comparing import bundle
from cnnstudy.escape import rst_text
from cnnstudy.records import ClaimRow, read_frame

pytestmark = pytest.mark.integration

# base (three seeds) at a learning rate that collapses it: its metric moves beyond seed noise
# (its claims stay inconclusive: all-collapsed seeds are judged with and without); the run
# that diverges on purpose trained as lenet_adam: far from chance on any torch build, so its
# chance claim turns from reproduced to contradicted
EDITED = ("mnist_cnn_sweeps", "base")
EDITS = {EDITED: {"lr": 0.05}, ("cifar10_lenet_vgg", "lenet_high_lr"): {"optimizer": "adam", "lr": 0.001}}


@pytest.fixture(scope="module")
def rerun(demo_run, tmp_path_factory):
    """A copy of the finished demo, rerun with one run's lr changed and the first bundle as reference."""
    work, cfg = demo_run
    copy = tmp_path_factory.mktemp("rerun") / "demo"
    shutil.copytree(work, copy, symlinks=True, ignore=shutil.ignore_patterns("report"))
    shutil.copy2(copy / "results" / "bundle.zip", copy / "reference.zip")
    cfg = yaml.safe_load((copy / "test.yaml").read_text())
    for (study, run), settings in EDITS.items():
        cfg["studies"][study]["runs"][run].update(settings)
    cfg["reference"] = "reference.zip"
    (copy / "test.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    plan = smk(copy, "-n", "--configfile", "test.yaml").stdout
    smk(copy, "--cores", "2", "--configfile", "test.yaml")
    return copy, cfg, plan


def test_only_the_edited_runs_retrain(rerun):
    work, cfg, plan = rerun
    seeds = [cfg["studies"][study].get("seeds", cfg["seeds"]) for study, _ in EDITS]
    assert job_counts(plan)["train"] == sum(map(len, seeds)) == 4


def _changed_claims(work) -> set:
    old = bundle.read_bundle(work / "reference.zip").tables["claims"].set_index("claim").verdict
    new = read_frame(ClaimRow, work / "results" / "tables" / "claims.csv").set_index("claim").verdict
    return {c for c in new.index if old.get(c) != new[c]}


def test_the_front_page_names_exactly_the_claims_whose_verdict_changed(rerun):
    work, _, _ = rerun
    changed = _changed_claims(work)
    assert "seed001_high_lr_at_chance" in changed, "the edit changed no verdict: pick a run whose claims it moves"
    page = (work / "results" / "report" / "front_page.rst").read_text()
    section = page.split("Against the reference")[1].split("list-table:: the two runs")[0]
    named = {
        c
        for c in read_frame(ClaimRow, work / "results" / "tables" / "claims.csv").claim
        if f"* - {rst_text(c)}\n" in section
    }
    assert named == changed
    assert f"**{len(changed)} of" in section
    assert page.index("claims per source report") < page.index("Against the reference")
    assert page.index("Against the reference") < page.index("Each claim of the five reports")  # before the method


def test_compare_prints_the_same_changes_and_exits_1(rerun):
    work, _, _ = rerun
    done = subprocess.run([sys.executable, "-m", "cnnstudy", "compare", "reference.zip", "results/bundle.zip"],
                          capture_output=True, text=True, cwd=work)  # fmt: skip
    assert done.returncode == 1, done.stderr
    printed = {line.split()[0] for line in done.stdout.split("Verdicts:")[1].split("Numbers")[0].splitlines()[1:]
               if "->" in line}  # fmt: skip
    assert printed == _changed_claims(work)
    assert f"{EDITED[0]}/{EDITED[1]}" in done.stdout.split("Numbers beyond seed noise")[1]


def test_changing_only_the_reference_retrains_nothing(rerun):
    work, cfg, _ = rerun
    shutil.copy2(work / "results" / "bundle.zip", work / "second.zip")
    cfg["reference"] = "second.zip"
    (work / "test.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    counts = job_counts(smk(work, "-n", "--configfile", "test.yaml").stdout)
    assert "train" not in counts and counts.get("against_reference") == 1


def test_a_reader_sees_what_changed_on_the_first_screens_of_the_report(rerun, browser):  # noqa: F811
    work, _, _ = rerun
    (work / "report").mkdir(exist_ok=True)
    smk(work, "--configfile", "test.yaml", "--report", "report/report.html")
    browser_checks._open(browser, work / "report" / "report.html", (1366, 768))
    heading = browser_checks._front_page_heading(browser)
    browser.execute_script("arguments[0].closest('.overflow-auto').scrollTop = 0", heading)
    section = browser.find_element("xpath", "//*[self::h2 or self::h3][contains(., 'Against the reference')]")
    height = browser.execute_script("return window.innerHeight")
    assert 0 <= section.rect["y"] < 2 * height  # on the first two screens, after the claim counts
    table = browser.find_element("xpath", "//caption[contains(., 'verdict changed')]/ancestor::table")
    shown = {row.find_elements("tag name", "td")[0].text for row in table.find_elements("css selector", "tbody tr")}
    assert shown == _changed_claims(work)
    assert not browser_checks._console_errors(browser)
