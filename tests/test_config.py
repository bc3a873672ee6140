import copy

import pytest
import yaml
from conftest import ROOT

from cnnstudy import config as cc


@pytest.fixture
def demo():
    return yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())


def test_shipped_configs_validate_and_plan_the_coco5_study():
    full = cc.load(ROOT / "config" / "config.yaml")
    runs = cc.runs(full)
    assert {(m, s) for st, m, s in runs if st == "coco5_nets"} == {
        (m, s) for m in ("net1", "net2", "net3") for s in range(5)
    }
    r = cc.run_config(full, "coco5_nets", "net1", 0)
    assert r.lr == 0.001 and r.betas == (0.9, 0.99) and r.batch_size == 4 and r.epochs == 15
    assert r.eval_batch_size == 64 and r.eval_subset == 500  # defaults from the schema
    cc.load(ROOT / "config" / "demo.yaml")


def test_run_keys_override_the_study_training_block(demo):
    demo["studies"]["coco5_nets"]["runs"]["net2"]["lr"] = 0.01
    demo["studies"]["coco5_nets"]["runs"]["net2"]["seeds"] = [7]
    cc.validate(demo)
    assert cc.run_config(demo, "coco5_nets", "net2", 7).lr == 0.01
    assert cc.run_config(demo, "coco5_nets", "net1", 0).lr == 0.001
    assert ("coco5_nets", "net2", 7) in cc.runs(demo) and ("coco5_nets", "net2", 0) not in cc.runs(demo)


def test_defaults_are_filled(demo):
    del demo["seeds"]
    cc.validate(demo)
    assert demo["seeds"] == [0, 1, 2] and demo["resources"]["train"]["gpus"] == 0


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: c.update(sedes=[0]), "Additional properties are not allowed \\('sedes'"),
        (lambda c: c["studies"]["coco5_nets"]["training"].update(lr=-1), "training/lr"),
        (lambda c: c["studies"]["coco5_nets"]["training"].update(optimizer="adamw"), "'adamw' is not one of"),
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
    bad["studies"]["coco5_nets"]["runs"]["net4"] = {"arch": "net4"}
    with pytest.raises(cc.ConfigError, match="runs/net4: unknown model 'net4'; known models: .*net1"):
        cc.validate(bad)
    bad = copy.deepcopy(demo)
    bad["studies"]["coco5_nets"]["dataset"] = "coco6"
    with pytest.raises(cc.ConfigError, match="dataset is 'coco6', not one of datasets: .*'coco5'"):
        cc.validate(bad)
    bad = copy.deepcopy(demo)
    bad["studies"]["coco5_nets"]["comparisons"][0]["a"] = "net7"
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
        key = (r.arch, str(r.options), cc.input_shape(full, study, run))
        if key in seen:
            continue
        seen.add(key)
        model = build_model(r.arch, key[2], 10, conv_impl=r.conv_impl, **r.options).eval()  # weights: not here
        with torch.no_grad():
            assert model(torch.zeros(2, *key[2])).shape == (2, 10), (study, run)


def test_every_compared_run_of_the_full_study_has_at_least_five_seeds():
    full = cc.load(ROOT / "config" / "config.yaml")
    for name, study in full["studies"].items():
        compared = {r for comp in study.get("comparisons", []) for r in (comp["a"], comp["b"])}
        for run in compared:
            assert len(cc.seeds_of(full, name, run)) >= 5, (name, run)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda c: c["studies"]["mnist_cnn_sweeps"]["runs"]["base"].update(options={"dropout": True}),
            "runs/base/options: model 'mnist_cnn' does not use option.*dropout",
        ),
        (
            lambda c: c["studies"]["coco5_nets"]["runs"]["net1"].update(options={"pool": "avg"}),
            "runs/net1/options: model 'net1' does not use option.*pool",
        ),
        (
            lambda c: c["studies"]["coco5_nets"]["runs"]["net1"].update(options={"bnn": True}),
            "Additional properties are not allowed \\('bnn'",
        ),
        (
            lambda c: c["studies"]["coco5_nets"]["runs"]["net1"].update(momentum=0.9),
            "runs/net1: optimizer 'adam' does not use 'momentum'",
        ),
        (
            lambda c: c["studies"]["cifar10_lenet"]["runs"]["lenet_high_lr"].update(betas=[0.9, 0.9]),
            "runs/lenet_high_lr: optimizer 'sgd' does not use 'betas'",
        ),
        (
            lambda c: c["studies"]["mnist_cnn_sweeps"]["runs"]["augment"]["augment"]["color_jitter"].update(
                saturation=0.3
            ),
            "color_jitter: \\['saturation'\\] change nothing on one-channel images",
        ),
        (lambda c: c["studies"]["coco5_nets"].pop("source"), "'source' is a required property"),
        (
            lambda c: c["studies"]["imagenette_lenet"].pop("reported_metric"),
            "'reported_metric' is a dependency of 'reported'",
        ),
        (lambda c: c["datasets"]["cifar10"].update(val_size=0), "val_size"),
    ],
)
def test_switches_a_run_does_not_use_are_rejected_naming_the_key(demo, mutate, message):
    mutate(demo)
    with pytest.raises(cc.ConfigError, match=message):
        cc.validate(demo)


def test_validating_the_config_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys; from cnnstudy import config; config.load('config/config.yaml'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
