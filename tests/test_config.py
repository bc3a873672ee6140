import copy
import re
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, demo_config

from cnnstudy import config as cc


@pytest.fixture
def demo():
    return demo_config()


def test_shipped_configs_validate_and_plan_the_coco5_study():
    full = cc.load(ROOT / "config" / "config.yaml")
    runs = cc.runs(full)
    assert {(m, s) for st, m, s in runs if st == "coco5_nets"} == {
        (m, s) for m in ("net1", "net2", "net3") for s in range(5)
    }
    r = cc.run_config(full, "coco5_nets", "net1", 0)
    assert r.lr == 0.001 and r.betas == (0.9, 0.99) and r.batch_size == 4 and r.epochs == 15
    assert r.eval_batch_size == 64 and r.eval_subset == 500  # defaults from the schema
    demo = cc.load(ROOT / "config" / "config.yaml", ROOT / "config" / "demo.yaml")
    assert cc.run_config(demo, "coco5_nets", "net1", 0).epochs == 4  # the overlay wins
    assert len(cc.all_claims(demo)) == len(cc.all_claims(full)) >= 40  # the same claims, one list


def test_run_keys_override_the_study_training_block(demo):
    demo["studies"]["coco5_nets"]["runs"]["net2"]["lr"] = 0.01
    demo["studies"]["coco5_nets"]["runs"]["net2"]["seeds"] = [7]
    cc.validate(demo)
    assert cc.run_config(demo, "coco5_nets", "net2", 7).lr == 0.01
    assert cc.run_config(demo, "coco5_nets", "net1", 0).lr == 0.001
    assert ("coco5_nets", "net2", 7) in cc.runs(demo) and ("coco5_nets", "net2", 0) not in cc.runs(demo)


def test_defaults_are_filled(demo):
    del demo["seeds"]
    assert "margin" not in demo["studies"]["cifar10_lenet_vgg"]["claims"][-1]
    cc.validate(demo)
    assert demo["seeds"] == [0, 1, 2] and demo["resources"]["train"]["gpus"] == 0
    assert demo["studies"]["cifar10_lenet_vgg"]["claims"][-1]["margin"] == 0.02  # chance level: default margin


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: c.update(sedes=[0]), "Additional properties are not allowed \\('sedes'"),
        (lambda c: c["studies"]["coco5_nets"]["training"].update(lr=-1), "training/lr"),
        (lambda c: c["studies"]["coco5_nets"]["training"].update(optimizer="adamw"), "'adamw' is not one of"),
        (lambda c: c["downloads"]["coco_train_2014"].update(checksum="sha256:abc"), "coco_train_2014/checksum"),
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

    from cnnstudy.nets.models import build_model

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
            lambda c: c["studies"]["cifar10_lenet_vgg"]["runs"]["lenet_high_lr"].update(betas=[0.9, 0.9]),
            "runs/lenet_high_lr: optimizer 'sgd' does not use 'betas'",
        ),
        (
            lambda c: c["studies"]["mnist_cnn_sweeps"]["runs"]["augment"]["augment"]["color_jitter"].update(
                saturation=0.3
            ),
            "color_jitter: \\['saturation'\\] change nothing on one-channel images",
        ),
        (lambda c: c["studies"]["coco5_nets"].pop("source"), "'source' is a required property"),
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


def _claims_of(c, study):
    return c["studies"][study]["claims"]


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda c: _claims_of(c, "coco5_nets")[0]["runs"].append("net9"),
            r"claims/0 \(seed002_net_order\) names run 'net9'",
        ),
        (lambda c: _claims_of(c, "coco5_nets")[2].update(classes=["cat", "horse"]), r"classes: \['horse'\] not among"),
        (lambda c: _claims_of(c, "coco5_nets")[1]["a"].update(layer="middle"), "'middle' is not one of"),
        (lambda c: _claims_of(c, "coco5_nets")[1].update(bound=3), "'bound' was unexpected"),
        (lambda c: _claims_of(c, "imagenette_lenet")[1].pop("direction"), "'direction' is a required property"),
        (lambda c: _claims_of(c, "imagenette_lenet")[1].update(direction="similar"), "'margin' is a required"),
        (lambda c: _claims_of(c, "imagenette_lenet")[1].update(id="seed002_net_order"), "is used twice"),
        (lambda c: c["conv_tests"]["claims"][0].update(cases=["dilation", "tilt"]), r"unknown case\(s\) \['tilt'\]"),
        (lambda c: c["conv_tests"]["claims"][0].update(report="seed009"), "report is 'seed009', not one of"),
        (lambda c: c["studies"]["coco5_nets"].update(report="seed9"), "report is 'seed9', not one of reports"),
        (
            lambda c: c["studies"]["coco5_nets"].update(title="COCO: five classes"),
            "title: 'COCO: five classes' does not",
        ),
        (lambda c: c.update(select=["coco5_nets/net9"]), "select names 'coco5_nets/net9', which is not"),
        (lambda c: c.update(select=["coco6"]), "select names 'coco6'"),
    ],
)
def test_claims_and_selections_naming_what_does_not_exist_fail_at_load(demo, mutate, message):
    mutate(demo)
    with pytest.raises(cc.ConfigError, match=message):
        cc.validate(demo)


def test_every_claim_of_the_issue_list_is_in_the_full_config():
    full = cc.load(ROOT / "config" / "config.yaml")
    claims = cc.all_claims(full)
    kinds = {c.kind for c in claims}
    assert kinds == {"difference", "order", "best", "number", "chance", "hardest_classes", "gradient_ratio",
                     "conv_cases", "conv_error"}  # fmt: skip
    assert {c.report for c in claims} == set(full["reports"])
    numbers = {(c.study, c.spec["run"]): c.spec["value"] for c in claims if c.kind == "number"}
    assert (
        numbers[("cifar10_lenet_vgg", "vgg_cifar")] == 0.7854 and numbers[("mnist_varres_pooling", "gp_max")] == 0.9113
    )
    assert numbers[("mnist_cnn_sweeps", "base")] == [0.991, 0.993]


def test_select_plans_only_the_chosen_runs_and_what_they_need(demo):
    demo["select"] = ["cifar10_lenet_vgg/lenet_adam", "mnist_varres_pooling"]
    cc.validate(demo)
    assert {(s, r) for s, r, _ in cc.runs(demo)} == {("cifar10_lenet_vgg", "lenet_adam")} | {
        ("mnist_varres_pooling", r) for r in ("fixed", "gp_max", "gp_mean")
    }
    assert cc.datasets_needed(demo) == ["cifar10", "mnist", "mnist_varres"]  # varres is built from mnist
    assert "coco_train_2014" not in cc.downloads_needed(demo) and "cifar10" in cc.downloads_needed(demo)


def test_merge_replaces_lists_and_merges_mappings_like_snakemake():
    from snakemake.utils import update_config

    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    overlay = {"a": {"c": [3], "e": {"f": 1}}, "d": {"x": 1}}
    expected = copy.deepcopy(base)
    update_config(expected, overlay)
    assert cc.merge(base, overlay) == expected and base["a"]["c"] == [1, 2]


def test_number_claims_name_a_record_of_ours_and_the_schema_lists_exactly_the_recorded_ones():
    from cnnstudy.judging.tables import RECORDED

    schema = cc.load_schema()
    number = next(
        b["then"] for b in schema["$defs"]["claim"]["allOf"] if b["if"]["properties"]["kind"] == {"const": "number"}
    )
    assert number["properties"]["metric"]["enum"] == [*RECORDED, "none"]
    full = cc.load(ROOT / "config" / "config.yaml")
    numbers = [c for c in cc.all_claims(full) if c.kind == "number"]
    assert len(numbers) == 21 and all(c.spec["metric"] in RECORDED for c in numbers)


def test_claims_on_a_set_up_we_chose_carry_our_reading():
    full = cc.load(ROOT / "config" / "config.yaml")
    by_id = {c.id: c for c in cc.all_claims(full)}
    assert "SGD lr 0.01, momentum 0.9, no augmentation" in by_id["seed001_lenet_sgd"].reading
    assert by_id["seed001_lenet_sgd"].reading.startswith("batch size 64")  # the study's, then the run's
    assert by_id["seed003_lr_1e_2"].reading == ""  # the report states its set-up


def test_a_non_editable_install_finds_its_schema_from_any_directory(tmp_path):
    """The schema is package data: it was found through the source tree's layout (parents[2]),
    so `pip install .` broke at import."""
    import shutil

    source, site = tmp_path / "source", tmp_path / "site"  # built from a copy: the build leaves files behind
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy2(ROOT / "pyproject.toml", source / "pyproject.toml")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(site), str(source)], check=True, capture_output=True, timeout=300)  # fmt: skip
    full = str(ROOT / "config" / "config.yaml")
    code = f"import cnnstudy.config as c; print(c.SCHEMA); print(len(c.runs(c.load({full!r}))))"
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    schema, runs = out.stdout.split()
    assert schema.startswith(str(site)) and runs == "185"


def test_runs_that_share_a_gpu_are_named_like_select_and_need_a_gpu_to_share(demo):
    demo["resources"]["train"].update(gpus=1, share=["mnist_cnn_sweeps", "coco5_nets/net1"])
    config = cc.validate(copy.deepcopy(demo))
    assert cc.shares_gpu(config, "mnist_cnn_sweeps", "base") and cc.shares_gpu(config, "coco5_nets", "net1")
    assert not cc.shares_gpu(config, "coco5_nets", "net2")
    bad = copy.deepcopy(demo)
    bad["resources"]["train"]["share"] = ["coco5_nets/net9"]
    with pytest.raises(cc.ConfigError, match="resources/train/share names 'coco5_nets/net9'"):
        cc.validate(bad)
    cpu = copy.deepcopy(demo)
    cpu["resources"]["train"]["gpus"] = 0
    with pytest.raises(cc.ConfigError, match="resources/train/gpus is 0"):
        cc.validate(cpu)


def test_a_sharing_run_asks_for_shards_and_the_others_for_a_whole_gpu(demo, tmp_path):
    demo["resources"]["train"].update(gpus=1, share=["coco5_nets/net1"], shards=2)
    demo["select"] = ["coco5_nets"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(demo))
    plan = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--snakefile", str(ROOT / "Snakefile"),
                           "--configfile", "c.yaml", "--printshellcmds"], cwd=tmp_path, capture_output=True,
                          text=True)  # fmt: skip
    assert plan.returncode == 0, plan.stderr[-2000:]
    jobs = [block for block in plan.stdout.split("rule train:")[1:]]
    resources = {re.search(r"model=(net\d)", j).group(1): re.search(r"resources: (.*)", j).group(1) for j in jobs}
    assert "gres=shard:2" in resources["net1"] and "gpu_shard=2" in resources["net1"] and "gpu=0" in resources["net1"]
    assert "gpu=1" in resources["net2"] and "gpu_shard=0" in resources["net2"]
