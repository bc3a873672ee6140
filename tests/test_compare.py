"""The results bundle and the comparison with a reference run: what a bundle holds and how it
is verified, which verdicts and numbers the comparison names, and the compare command's exit
status (a CI gates on it)."""

import hashlib
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import ROOT, demo_config, run_summary
from scipy import stats
from statsmodels.stats.multitest import multipletests

from cnnstudy import config as cc
from cnnstudy.comparing import bundle, compare
from cnnstudy.judging.tables import runs_table
from cnnstudy.records import ClaimRow, ClaimTestRow, NumberRow, frame, write_record
from cnnstudy.report import front_page

BASE = {"a": [0.60, 0.62, 0.58, 0.61, 0.59], "b": [0.50, 0.51, 0.49, 0.52, 0.50]}


def _claim(cid: str, verdict: str) -> ClaimRow:
    return ClaimRow(claim=cid, report="r1", study="s", kind="difference", quote="q", checked="a > b", verdict=verdict,
                    set_up="the report's", evidence="e", n=5, collapsed="", our_metric="m", reported_metric="",
                    reading="", robustness="", flipped_by="")  # fmt: skip


def make_run(folder, accuracies=BASE, verdicts=None, code="0" * 64):
    """A finished results folder (tables, summaries, provenance) and its bundle; returns the bundle."""
    verdicts = verdicts or {"c1": "reproduced", "c2": "inconclusive"}
    summaries = [run_summary(model=m, seed=k, test_accuracy=v, code_sha256=code, data_sha256={"structure": "d"})
                 for m, values in accuracies.items() for k, v in enumerate(values)]  # fmt: skip
    for s in summaries:
        write_record(s, folder / "runs" / s.study / s.model / f"seed{s.seed}" / "summary.json")
    tables = folder / "tables"
    runs_table(sorted(folder.glob("runs/*/*/*/summary.json"))).to_csv(tables / "runs.csv", index=False)
    frame(ClaimRow, [_claim(c, v) for c, v in verdicts.items()]).to_csv(tables / "claims.csv", index=False)
    frame(ClaimTestRow, []).to_csv(tables / "claim_tests.csv", index=False)
    frame(NumberRow, []).to_csv(tables / "vs_reported.csv", index=False)
    (tables / "answers.csv").write_text("study,question,verdict\n")
    provenance = bundle.provenance_of(summaries, {"seeds": 5}, "abc123", [ROOT / "src" / "cnnstudy" / "records.py"])
    write_record(provenance, folder / bundle.PROVENANCE)
    path = folder / "bundle.zip"
    bundle.write_bundle(path, {n: tables / f"{n}.csv" for n in bundle.TABLES}, summaries, {"seeds": 5}, provenance)
    return path


@pytest.fixture
def reference(tmp_path):
    (tmp_path / "reference" / "tables").mkdir(parents=True)
    return make_run(tmp_path / "reference")


def _ours(tmp_path, **changes):
    (tmp_path / "ours" / "tables").mkdir(parents=True)
    return make_run(tmp_path / "ours", **changes)


def test_a_bundle_lists_every_member_with_its_sha256_and_holds_no_checkpoint_or_dataset(reference):
    with zipfile.ZipFile(reference) as z:
        members = {name: z.read(name) for name in z.namelist()}
    manifest = json.loads(members.pop(bundle.MANIFEST))
    assert set(manifest) == set(members)
    assert all(manifest[n]["sha256"] == hashlib.sha256(data).hexdigest() for n, data in members.items())
    tables = {f"tables/{n}.csv" for n in ("runs", "claims", "claim_tests", "vs_reported", "answers")}
    assert tables | {"config.yaml", "provenance.json"} <= set(members)
    assert sum(n.endswith("/summary.json") for n in members) == 10
    assert not [n for n in members if n.endswith((".pt", ".pth", ".npz", ".tar", ".gz"))]
    provenance = json.loads(members["provenance.json"])
    assert provenance["commit"] == "abc123" and provenance["data_sha256"] == {"mnist": {"structure": "d"}}
    assert provenance["versions"]["torch"] and len(provenance["tables_code_sha256"]) == 64


def _rewrite(path, change):
    """The zip at ``path`` rewritten with ``change(members)`` applied (its manifest kept)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_an_edited_or_added_member_is_refused_naming_it(reference, tmp_path):
    _rewrite(
        reference, lambda m: m.__setitem__("tables/claims.csv", m["tables/claims.csv"].replace(b"inconc", b"reprod"))
    )
    with pytest.raises(bundle.BundleError, match=r"member tables/claims.csv does not match its sha256"):
        bundle.read_bundle(reference)
    other = make_run(tmp_path / "reference", verdicts=None)
    _rewrite(other, lambda m: m.__setitem__("runs/s/m/seed9/summary.json", b"{}"))
    with pytest.raises(bundle.BundleError, match=r"\['runs/s/m/seed9/summary.json'\] not in its manifest"):
        bundle.read_bundle(other)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(bundle.BundleError, match="junk.zip is not a readable bundle"):
        bundle.read_bundle(tmp_path / "junk.zip")


def test_a_results_folder_reads_as_its_bundle(reference):
    folder, zipped = bundle.read_bundle(reference.parent), bundle.read_bundle(reference)
    for name in bundle.TABLES:
        assert folder.tables[name].equals(zipped.tables[name]), name
    assert folder.summaries == zipped.summaries and folder.provenance == zipped.provenance
    (reference.parent / bundle.PROVENANCE).unlink()
    with pytest.raises(bundle.BundleError, match="provenance.json'] missing"):
        bundle.read_bundle(reference.parent)


def test_a_changed_verdict_and_a_number_beyond_seed_noise_are_named_and_the_rest_is_not(reference, tmp_path):
    moved = {"a": [v + 0.08 for v in BASE["a"]], "b": BASE["b"]}
    ours = _ours(tmp_path, accuracies=moved, verdicts={"c1": "reproduced", "c2": "contradicted"})
    c = compare.compare(bundle.read_bundle(reference), bundle.read_bundle(ours))
    assert [(v.claim, v.reference, v.ours) for v in c.changed] == [("c2", "inconclusive", "contradicted")]
    assert [(n.model, n.beyond_noise) for n in c.numbers] == [("a", True), ("b", False)]
    welch = [stats.ttest_ind(moved[m], BASE[m], equal_var=False).pvalue for m in ("a", "b")]
    assert [n.p_holm for n in c.numbers][0] == pytest.approx(multipletests(welch, method="holm")[1][0])
    assert c.numbers[0].difference == pytest.approx(0.08) and c.numbers[1].p_holm == 1.0  # identical seeds


def test_claims_judged_on_other_training_code_say_so_even_where_the_verdict_held(reference, tmp_path):
    ours = _ours(tmp_path, code="1" * 64)
    c = compare.compare(bundle.read_bundle(reference), bundle.read_bundle(ours))
    assert c.changed == [] and {v.basis for v in c.verdicts} == {"judged on other training code"}


def _compare_command(*paths):
    return subprocess.run([sys.executable, "-m", "cnnstudy", "compare", *map(str, paths)], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip


def test_the_compare_command_exits_1_on_a_changed_verdict_and_0_on_none(reference, tmp_path):
    same = _compare_command(reference, reference)
    assert same.returncode == 0, same.stderr
    assert "Verdicts: 0 of 2 claims changed" in same.stdout and "0 of 2 runs" in same.stdout
    ours = _ours(tmp_path, verdicts={"c1": "inconclusive", "c2": "inconclusive"})
    changed = _compare_command(reference, ours)
    assert changed.returncode == 1 and "c1 (r1): reproduced -> inconclusive" in changed.stdout
    assert "commit" in changed.stdout and "abc123" in changed.stdout  # the provenance side by side
    missing = _compare_command(reference, tmp_path / "nowhere.zip")
    assert missing.returncode == 2 and "nowhere.zip" in missing.stderr


def test_the_front_page_puts_the_changed_claims_right_after_the_claim_counts(reference, tmp_path):
    ours = _ours(tmp_path, verdicts={"c1": "reproduced", "c2": "contradicted"})
    tables = compare.compare(bundle.read_bundle(reference), bundle.read_bundle(ours)).tables()
    section = front_page.reference_section(tables, claims=2)
    assert "**1 of 2 claims changed verdict**" in section
    assert "c2" in section and ":inconclusive:`inconclusive` -> :contradicted:`contradicted`" in section
    assert "c1" not in section.split("the two runs")[0]  # an unchanged claim is not listed


def test_a_reference_that_is_missing_or_this_runs_own_results_is_refused(tmp_path, monkeypatch):
    config = demo_config()
    config["reference"] = str(tmp_path / "gone.zip")
    with pytest.raises(cc.ConfigError, match="reference: .*gone.zip' does not exist"):
        cc.validate(config)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bundle.zip").write_bytes(b"")
    config = demo_config()
    config["reference"] = "results/bundle.zip"
    with pytest.raises(cc.ConfigError, match="this run's own results"):
        cc.validate(config)
    config = demo_config()
    config["reference"] = "{study}.zip"
    with pytest.raises(cc.ConfigError, match="reference"):
        cc.validate(config)


def test_welch_needs_two_seeds_a_side():
    assert np.isnan(compare._welch_p(np.array([0.5]), np.array([0.5, 0.6])))
    assert compare._welch_p(np.array([0.5, 0.5]), np.array([0.6, 0.6])) == 0.0


def test_welch_p_with_one_side_at_a_constant_is_welchs_limit_without_a_warning():
    """Five seeds all collapsed at 0.1 against five that learned: the p of Welch's test as the
    constant side's spread goes to 0, and none of scipy's precision-loss warnings on stderr."""
    import warnings

    from scipy import stats

    flat, spread = np.full(5, 0.1), np.array([0.12, 0.18, 0.11, 0.2, 0.15])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, q = compare._welch_p(flat, spread), compare._welch_p(spread, flat)
    nearly = flat + np.array([0, 1, 0, -1, 0]) * 1e-9
    assert p == q and p == pytest.approx(stats.ttest_ind(nearly, spread, equal_var=False).pvalue, rel=1e-6)


def test_the_bundle_command_lists_every_member_with_its_sha256_and_refuses_a_damaged_one(reference):
    listed = subprocess.run([sys.executable, "-m", "cnnstudy", "bundle", str(reference)], capture_output=True,
                            text=True, cwd=ROOT)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    with zipfile.ZipFile(reference) as z:
        expected = {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist() if n != bundle.MANIFEST}
    lines = [line.split() for line in listed.stdout.splitlines()[:-1]]
    assert {name: digest for digest, _, name in lines} == expected
    _rewrite(reference, lambda m: m.__setitem__("config.yaml", b"seeds: [9]\n"))
    damaged = subprocess.run([sys.executable, "-m", "cnnstudy", "bundle", str(reference)], capture_output=True,
                             text=True, cwd=ROOT)  # fmt: skip
    assert damaged.returncode == 2 and "member config.yaml does not match its sha256" in damaged.stderr
