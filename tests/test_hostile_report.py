"""A study whose texts are hostile, run through the real pipeline (in a copy of this
repository) and `snakemake --report`:
quotes, a report title, a study's source, its reported metric, a question, its set-up as
the report ran it and a download's licence hold a Jinja
escape that runs a shell command, scripts, handlers and RST directives. The report is built,
no command ran, and in headless Chromium no injected script or handler runs, on the report
and on every page it links (notebook, tables). A title with mathtext draws, and editing it
redraws exactly the figures that show it. Editing a package module (in the copy) plans
exactly the rules whose scripts import it; a module no script imports is no rule's input."""

import os
import re
import time

import pytest
import yaml
from conftest import copy_repository, demo_config, job_counts, smk
from test_hostile_input import payloads
from test_report_browser import browser  # noqa: F401 - the module's browser fixture

pytestmark = pytest.mark.integration
TITLE = "MNIST $x^$ sweeps"  # mathtext would fail on it, late, in the renderer


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile")
    marker = work / "PWNED"
    cfg = demo_config()
    cfg["select"] = ["mnist_cnn_sweeps/base", "mnist_cnn_sweeps/lr_1e_2"]
    study = cfg["studies"]["mnist_cnn_sweeps"]
    study["seeds"] = [0, 1]
    study["training"].update(epochs=1, eval_every_steps=0)
    hostile = payloads(marker)
    for claim, text in zip(study["claims"], hostile):
        claim["quote"] = text
    cfg["reports"][study["report"]]["title"] = hostile[4]
    study.update(source=hostile[3], reported_metric=hostile[0], title=TITLE)
    study["comparisons"][0]["question"] = hostile[2]
    # the reproduction summary's texts: the report's set-up, a deviation's reason, a licence
    study["as_reported"].update(splits=hostile[3], deviations={"epochs": hostile[0]})
    cfg["sources"]["mnist_train_images"] = {"publisher": hostile[5], "version": hostile[1], "licence": hostile[2]}
    cfg["conv_tests"].update(timing_shapes=[[2, 3, 16, 16, 4, 3, 1, 0]], timing_repeats=1)
    (work / "test.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakefile = copy_repository(work / "repo")  # a copy: a test below edits its code
    smk(work, "--cores", "2", "--configfile", "test.yaml", snakefile=snakefile)
    (work / "report").mkdir()
    smk(work, "--configfile", "test.yaml", "--report", "report/report.html", snakefile=snakefile)
    return work, marker, cfg


def test_the_report_is_built_and_no_config_text_ran(hostile_run):
    work, marker, _ = hostile_run
    html = (work / "report" / "report.html").read_text()
    assert not marker.exists()
    assert "lipsum.__globals__" in html  # the quote is in the page, as text


def _pwned(driver):
    return driver.execute_script("return typeof window.__pwned === 'undefined' ? null : window.__pwned")


def test_no_injected_script_or_handler_runs_in_the_browser(hostile_run, browser):  # noqa: F811
    work, _, _ = hostile_run
    browser.set_window_size(1366, 768)
    browser.get((work / "report" / "report.html").as_uri())
    for _ in range(100):
        if browser.execute_script("return typeof app !== 'undefined' && !!document.querySelector('h1')"):
            break
        time.sleep(0.1)
    time.sleep(1)  # an injected onerror fires once its image fails
    text = browser.find_element("tag name", "body").get_attribute("textContent")
    assert _pwned(browser) is None
    assert "window.__pwned = 1" in text and "raw:: html" in text  # shown, not run
    pages = [work / "results" / "notebooks" / "mnist_cnn_sweeps_analysis.html"]
    pages += [work / "results" / "tables" / f"{name}.html" for name in ("claims", "answers", "vs_reported")]
    pages.append(work / "results" / "report" / "reproduction.html")
    for page in pages:
        browser.get(page.as_uri())
        time.sleep(0.5)
        assert _pwned(browser) is None, page
        shown = browser.find_element("tag name", "body").get_attribute("textContent")
        assert "window.__pwned" in shown or "lipsum.__globals__" in shown, page  # a payload, as text


def test_editing_a_title_redraws_the_figures_that_show_it_and_trains_nothing(hostile_run):
    work, _, cfg = hostile_run
    cfg["studies"]["mnist_cnn_sweeps"]["title"] = "MNIST sweeps, renamed"
    (work / "edited.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    counts = job_counts(smk(work, "-n", "--configfile", "edited.yaml", snakefile=work / "repo" / "Snakefile").stdout)
    for rule in ("study_figures", "confusion_figures", "interpret"):
        assert counts.get(rule) == 1, (rule, counts)
    assert "train" not in counts and "claims" not in counts, counts


def test_editing_a_quote_reruns_the_claims_without_printing_them(hostile_run):
    work, _, cfg = hostile_run
    cfg["studies"]["mnist_cnn_sweeps"]["claims"][0]["quote"] = "a plain quote now"
    (work / "quote.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = smk(work, "-n", "--configfile", "quote.yaml", snakefile=work / "repo" / "Snakefile")
    counts = job_counts(proc.stdout)
    assert counts.get("claims") == 1 and "train" not in counts, counts
    assert "a plain quote now" not in proc.stdout + proc.stderr  # the params carry a digest, not the claims


def _reasons(dry_run: str) -> dict:
    """rule -> the reasons Snakemake gives for planning its jobs."""
    reasons = {}
    for block in re.split(r"\n\s*\n", dry_run):
        rule, reason = re.search(r"^(?:local)?rule (\w+):", block, re.M), re.search(r"reason: (.*)", block)
        if rule and reason:
            reasons.setdefault(rule.group(1), []).append(reason.group(1))
    return reasons


def test_editing_a_module_reruns_exactly_the_rules_whose_scripts_import_it(hostile_run):
    work, _, _ = hostile_run
    snakefile, package = work / "repo" / "Snakefile", work / "repo" / "src" / "cnnstudy"
    # the epoch module: the training script reaches it, and the grid projection (it times the
    # trainer's step); TensorBoard's writer: the training script only
    for name, expected in (("epoch.py", {"train", "grid_projection"}), ("board.py", {"train"})):
        module = package / "training" / name
        text, stat = module.read_text(), module.stat()
        try:
            module.write_text(text + "\n# an edit\n")
            reasons = _reasons(smk(work, "-n", "--configfile", "test.yaml", snakefile=snakefile).stdout)
            edited = {rule for rule, why in reasons.items() if any(name in r for r in why)}
            assert edited == expected, (name, reasons)
        finally:
            module.write_text(text)
            os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (package / "orphan.py").write_text("from . import escape\n")  # imported by no script
    try:
        proc = smk(work, "-n", "--configfile", "test.yaml", snakefile=snakefile)
        assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]
    finally:
        (package / "orphan.py").unlink()
