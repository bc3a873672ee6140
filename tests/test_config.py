import copy

import pytest
import yaml

from cnnstudy import config as cc
from conftest import ROOT


@pytest.fixture
def demo():
    return yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())


def test_shipped_configs_validate_and_plan_the_seed002_study():
    full = cc.load(ROOT / "config" / "config.yaml")
    runs = cc.runs(full)
    assert {(m, s) for st, m, s in runs if st == "seed002"} == {(m, s) for m in ("net1", "net2", "net3") for s in (0, 1, 2)}
    r = cc.run_config(full, "seed002", "net1", 0)
    assert r["lr"] == 0.001 and r["betas"] == [0.9, 0.99] and r["batch_size"] == 4 and r["epochs"] == 15
    cc.load(ROOT / "config" / "demo.yaml")


def test_run_keys_override_the_study_training_block(demo):
    demo["studies"]["seed002"]["runs"]["net2"]["lr"] = 0.01
    demo["studies"]["seed002"]["runs"]["net2"]["seeds"] = [7]
    cc.validate(demo)
    assert cc.run_config(demo, "seed002", "net2", 7)["lr"] == 0.01
    assert cc.run_config(demo, "seed002", "net1", 0)["lr"] == 0.001
    assert ("seed002", "net2", 7) in cc.runs(demo) and ("seed002", "net2", 0) not in cc.runs(demo)


def test_defaults_are_filled(demo):
    del demo["seeds"]
    cc.validate(demo)
    assert demo["seeds"] == [0, 1, 2] and demo["resources"]["train"]["gpus"] == 0


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: c.update(sedes=[0]), "Additional properties are not allowed \\('sedes'"),
        (lambda c: c["studies"]["seed002"]["training"].update(lr=-1), "training/lr"),
        (lambda c: c["studies"]["seed002"]["training"].update(optimizer="adamw"), "'adamw' is not one of"),
        (lambda c: c["downloads"]["coco_train_2014"].update(sha256="abc"), "coco_train_2014/sha256"),
        (lambda c: c["downloads"]["coco_train_2014"].update(md5="0" * 32), "coco_train_2014"),
    ],
)
def test_bad_config_values_name_the_key(demo, mutate, message):
    mutate(demo)
    with pytest.raises(cc.ConfigError, match=message):
        cc.validate(demo)


def test_unknown_model_dataset_and_comparison_are_clear_errors(demo):
    bad = copy.deepcopy(demo)
    bad["studies"]["seed002"]["runs"]["net4"] = {"arch": "net4"}
    with pytest.raises(cc.ConfigError, match="runs/net4: unknown model 'net4'; known models: .*net1"):
        cc.validate(bad)
    bad = copy.deepcopy(demo)
    bad["studies"]["seed002"]["dataset"] = "coco6"
    with pytest.raises(cc.ConfigError, match="dataset is 'coco6', not one of datasets: .*'coco5'"):
        cc.validate(bad)
    bad = copy.deepcopy(demo)
    bad["studies"]["seed002"]["comparisons"][0]["a"] = "net7"
    with pytest.raises(cc.ConfigError, match="a='net7' is not one of its runs"):
        cc.validate(bad)


def test_every_configured_run_builds_a_model_for_its_input():
    """Catches a model that cannot take its dataset's shape before any cluster time is spent."""
    import torch

    from cnnstudy.models import build_model

    full = cc.load(ROOT / "config" / "config.yaml")
    seen = set()
    for study, run, _ in cc.runs(full):
        r = cc.run_config(full, study, run, 0)
        key = (r["arch"], str(r["options"]), cc.input_shape(full, study, run))
        if key in seen:
            continue
        seen.add(key)
        options = {k: v for k, v in r["options"].items() if k != "weights"}  # not downloaded here
        model = build_model(r["arch"], key[2], 10, conv_impl=r["conv_impl"], **options).eval()
        with torch.no_grad():
            assert model(torch.zeros(2, *key[2])).shape == (2, 10), (study, run)
