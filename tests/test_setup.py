"""The reproduction summary: the reports' set-up beside ours, deviations marked, what was not
run, and a sources table that covers every download of the full study."""

import pandas as pd
import pytest
from conftest import ROOT, demo_config

from cnnstudy import config as cc
from cnnstudy.report import pages, setup


@pytest.fixture(scope="module")
def full():
    return cc.load(ROOT / "config" / "config.yaml")


def test_every_download_of_the_full_study_has_its_source_version_and_licence(full):
    sources = setup.sources_table(full)
    assert sorted(sources.download) == sorted(full["downloads"])
    assert not (sources[["publisher", "version", "licence"]] == setup.NO_SOURCE).any().any()
    licences = dict(zip(sources.download, sources.licence))
    assert "no licence stated" in licences["cifar10"] and "no licence stated" in licences["mnist_train_images"]
    assert "Attribution 4.0" in licences["coco_annotations_2014"] and "Flickr" in licences["coco_train_2014"]
    assert dict(zip(sources.download, sources.checksum))["cifar10"] == full["downloads"]["cifar10"]["checksum"]


def test_every_study_states_what_its_report_ran_and_marks_exactly_its_declared_deviations(full):
    table = setup.setup_table(full, {}, {})
    assert set(table.study) == set(full["studies"]) and not (table.reported == setup.NOT_GIVEN).any()
    for study, spec in full["studies"].items():
        rows = table[table.study == study].set_index("aspect")
        declared = spec["as_reported"].get("deviations", {})
        assert set(rows.index[rows.deviation]) == set(declared), study
        assert all(rows.why[a] == why for a, why in declared.items())
        assert (rows.why[~rows.deviation] == "").all()


def test_our_side_is_read_from_the_resolved_config_and_the_prepared_splits(full):
    counts = pd.DataFrame({"split": ["train"] * 2 + ["val"] * 2 + ["test"] * 2, "class": ["a", "b"] * 3,
                           "count": [22500, 22500, 2500, 2500, 5000, 5000]})  # fmt: skip
    table = setup.setup_table(full, {"cifar10": counts}, {"cifar10_alexnet_nin": "test accuracy (best-val epoch)"})
    ours = table[table.study == "cifar10_alexnet_nin"].set_index("aspect").ours
    assert ours["splits"].startswith("45000 train / 5000 val / 10000 test: 5000 train images held out as val")
    assert ours["image_size"].startswith("resized to 224 x 224") and "nin_both: 32 x 32" in ours["image_size"]
    assert ours["optimizer"] == "SGD, lr 0.05, momentum 0.9" and ours["metric"] == "test accuracy (best-val epoch)"
    coco = table[table.study == "coco5_nets"].set_index("aspect").ours
    assert coco["optimizer"] == "Adam, lr 0.001, betas (0.9, 0.99)" and coco["metric"] == "not run"


def test_what_was_not_run_lists_the_unselected_runs_and_the_claims_no_run_could_judge():
    config = cc.validate(demo_config())
    claims = pd.DataFrame({"claim": ["c1", "c2"], "report": ["r", "r"], "verdict": ["not run", "reproduced"],
                           "evidence": ["lenet_sgd is not selected in this config (key select)", "x"]})  # fmt: skip
    table = setup.not_run_table(config, claims)
    assert "run cifar10_lenet_vgg/lenet_sgd" in set(table.what)
    assert "run cifar10_lenet_vgg/lenet_adam" not in set(table.what)  # the demo selects it
    assert table[table.what == "claim c1 (r)"].why.tolist() == ["lenet_sgd is not selected in this config (key select)"]
    assert "claim c2 (r)" not in set(table.what)


def test_a_source_for_no_download_is_refused_and_a_hostile_licence_is_shown_as_text():
    config = demo_config()
    config["sources"]["cifar100"] = {"publisher": "p", "version": "v", "licence": "l"}
    with pytest.raises(cc.ConfigError, match=r"sources names \['cifar100'\], not under downloads"):
        cc.validate(config)
    config = cc.validate(demo_config())
    config["sources"]["cifar10"]["licence"] = "<script>alert(1)</script>"
    page = pages.html_sections("t", "n", [("Sources", "s", setup.sources_table(config))])
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_our_side_is_that_of_the_selected_runs_and_a_study_without_any_says_not_run():
    config = demo_config()
    config["select"] = ["coco5_nets", "cifar10_alexnet_nin/nin_both"]
    table = setup.setup_table(cc.validate(config), {}, {})
    assert set(table[table.study == "mnist_cnn_sweeps"].ours) == {setup.NOT_SELECTED}
    nin = table[(table.study == "cifar10_alexnet_nin") & (table.aspect == "image_size")].ours.item()
    assert nin == "32 x 32"  # the AlexNet-like runs (resized) are not selected
