"""The demo DAG end to end in a temporary directory, as a user runs it."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, board_scalars, demo_config, job_counts, smk

from cnnstudy import config as cc
from cnnstudy.nets.architectures import ARCHITECTURES

pytestmark = pytest.mark.integration


def test_every_output_exists_and_accuracy_is_above_chance(demo_run):
    work, cfg = demo_run
    res = work / "results"
    for rel in (
        [
            "tables/runs.csv",
            "tables/curves.csv",
            "tables/confusion.csv",
            "tables/answers.csv",
            "conv/cases.csv",
            "conv/timing.csv",
            "figures/conv/errors.png",
            "figures/conv/timing.png",
            "notebooks/conv_tester.html",
            "figures/datasets/coco5_samples.png",
            "figures/datasets/coco5_card.png",
            "figures/coco5_nets/curves_epoch.png",
            "figures/coco5_nets/curves_steps.png",
            "figures/coco5_nets/per_class_accuracy.png",
            "datasets/coco5/manifest.csv",
            "datasets/coco5/data.pt",
        ]
        + [f"figures/coco5_nets/confusion/{m}_seed0.png" for m in ("net1", "net2", "net3")]
        + [f"figures/claims/claims_{r}.png" for r in cfg["reports"]]
        + [f"tables/{t}.csv" for t in ("claims", "claim_tests", "vs_reported")]
        + [f"figures/datasets/{d}_{kind}.png" for d in cfg["datasets"] for kind in ("samples", "card")]
        + [
            f"figures/{study}/{fig}.png"
            for study in cfg["studies"]
            for fig in ("curves_epoch", "ablation", "gradient_norms", "vs_reported")
        ]
        + [
            f"figures/{study}/interpret/{kind}/{run}_seed0.png"
            for study, run, _ in cc.runs(cfg)
            for kind in ("attribution", "feature_maps", "filters")
        ]
    ):
        assert (res / rel).stat().st_size > 0, rel
    runs = pd.read_csv(res / "tables" / "runs.csv")
    assert len(runs) == len(cc.runs(cfg)) and set(runs.arch) == set(ARCHITECTURES)  # every architecture trains
    status = runs.groupby(["study", "model"]).status.first()
    assert status.pop(("cifar10_lenet_vgg", "lenet_high_lr")) == "diverged"  # recorded, and the DAG went on
    assert (status == "completed").all()
    best = runs.groupby(["study", "model"]).best_val_accuracy.mean()
    assert best["coco5_nets", "net1"] > 0.6 and best["coco5_nets", "net2"] > 0.6  # chance is 0.2
    assert best["mnist_varres_pooling", "gp_max"] > 0.5 and best["cifar10_lenet_vgg", "lenet_adam"] > 0.3  # 0.1
    log = (res / "logs" / "figures" / "imagenette_resnet18_interpret.log").read_text()
    assert "bn_frozen: correct" in log and "(CAM)" in log  # a frozen backbone interpreted: exact CAM
    curves = pd.read_csv(res / "tables" / "curves.csv")
    assert set(curves.scope) == {"step", "epoch"} and {"net1", "net2", "net3"} <= set(curves.model)
    manifest = pd.read_csv(res / "datasets" / "coco5" / "manifest.csv")
    assert manifest.image_id.is_unique and len(manifest) == 5 * (40 + 20)
    for study in cfg["studies"]:
        assert "which model is best?" in (res / "notebooks" / f"{study}_analysis.html").read_text()
    for page in (res / "notebooks").glob("*.html"):  # rendered for reading offline, nothing of this machine
        text = page.read_text()
        assert not re.search(r'src="https?://|import\("https?://', text) and str(work) not in text, page
    html = (res / "notebooks" / "conv_tester.html").read_text()
    assert "implementation" in html and "Error" not in html.split("forward+backward")[0][-2000:]


def test_report_is_generated(demo_report):
    html = demo_report.read_text()
    assert len(html) > 100_000 and "coco5_nets" in html and "Convolution from scratch" in html
    assert "Did it reproduce?" in html and "Demo data" in html  # the front page: verdicts, flagged as demo
    assert "net1, net2 (padding), net3 (deep)" in html  # categories by title (JSON escapes the dash)
    assert "claims_seed002.png" in html and "System Message" not in html  # RST rendered cleanly


def _reversed(value):
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    return [_reversed(v) for v in value] if isinstance(value, list) else value


def test_a_config_whose_keys_are_only_reordered_reruns_nothing(demo_run):
    work, cfg = demo_run
    (work / "reordered.yaml").write_text(yaml.safe_dump(_reversed(cfg), sort_keys=False))
    assert "Nothing to be done" in smk(work, "-n", "--configfile", "reordered.yaml").stdout


def test_editing_one_models_lr_reruns_only_that_model_and_downstream(demo_run):
    work, cfg = demo_run
    assert "Nothing to be done" in smk(work, "-n", "--configfile", "test.yaml").stdout
    edited = yaml.safe_load((work / "test.yaml").read_text())
    edited["studies"]["coco5_nets"]["runs"]["net2"]["lr"] = 0.003
    (work / "edited.yaml").write_text(yaml.safe_dump(edited))
    counts = job_counts(smk(work, "-n", "--configfile", "edited.yaml").stdout)
    assert counts["train"] == 1 and counts["confusion_figures"] == 1 and counts["claims"] == 1
    assert {"aggregate", "study_figures", "answers"} <= counts.keys()
    assert not {"download", "extract", "coco_subset", "conv_tests", "conv_timing", "dataset_card"} & counts.keys()


def test_editing_plotting_code_reruns_figures_only(demo_run):
    work, _ = demo_run
    plots = ROOT / "src" / "cnnstudy" / "report" / "plots.py"
    before, text = plots.stat(), plots.read_bytes()
    try:
        plots.write_bytes(text + b"\n# an edit\n")  # Snakemake compares content, not just mtime
        counts = job_counts(smk(work, "-n", "--configfile", "test.yaml").stdout)
    finally:
        plots.write_bytes(text)
        os.utime(plots, (before.st_atime, before.st_mtime))
    assert {"study_figures", "confusion_figures", "interpret", "dataset_card", "claims_figures"} <= counts.keys()
    assert not {"train", "aggregate", "coco_subset", "conv_tests"} & counts.keys()


def test_killed_training_job_resumes_and_matches_the_uninterrupted_run(demo_run):
    """SIGKILL the whole Snakemake process group while a training job runs; the rerun resumes
    from the job's last epoch checkpoint and ends with the same numbers."""
    work, _ = demo_run
    run = work / "results" / "runs" / "coco5_nets" / "net1" / "seed0"
    ckpt = work / "results" / "checkpoints" / "coco5_nets" / "net1" / "seed0" / "last.pt"
    reference = pd.read_csv(run / "metrics.csv")
    shutil.rmtree(run)
    ckpt.unlink(missing_ok=True)  # a completed run removes its resume checkpoint (keep_checkpoints: false)
    target = str(run.relative_to(work) / "summary.json")
    proc = subprocess.Popen(
        [*SNAKEMAKE, target, "--cores", "1", "--configfile", "test.yaml"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (run / "metrics.csv").exists()
    smk(work, "--unlock", "--configfile", "test.yaml")  # the killed Snakemake left its lock
    smk(work, target, "--cores", "1", "--configfile", "test.yaml")
    log = (work / "results" / "logs" / "train" / "coco5_nets" / "net1" / "seed0.log").read_text()
    assert "resumed from" in log
    metrics = pd.read_csv(run / "metrics.csv")
    pd.testing.assert_frame_equal(reference, metrics)  # same seed, same numbers
    board = board_scalars(work / "results" / "tensorboard" / "coco5_nets" / "net1" / "seed0")
    for scope, split in (("epoch", "val"), ("step", "train")):
        steps = [s for s, _ in board[f"{scope}/{split}_loss"]]
        expected = metrics[(metrics.scope == scope) & (metrics.split == split)].step.tolist()
        assert steps == expected, (scope, split)  # strictly increasing, none duplicated, none missing


def test_tensorboard_lists_every_run_of_the_demo_with_its_scalars(demo_run):
    work, cfg = demo_run
    for study, run, seed in cc.runs(cfg):
        summary = json.loads((work / "results" / "runs" / study / run / f"seed{seed}" / "summary.json").read_text())
        board = board_scalars(work / "results" / "tensorboard" / study / run / f"seed{seed}")
        assert len(board["epoch/val_accuracy"]) == summary["epochs_run"], (study, run, seed)
        assert "epoch/learning_rate" in board and any(t.startswith("grad_norm/") for t in board)


def test_answers_name_the_metric_and_give_intervals_and_verdicts(demo_run):
    work, _ = demo_run
    answers = pd.read_csv(work / "results" / "tables" / "answers.csv")
    assert {"metric", "mean_difference", "ci_low", "ci_high", "n", "verdict"} <= set(answers.columns)
    assert set(answers[answers.n < 2].verdict) <= {"inconclusive"} and answers.metric.notna().all()
    reported = pd.read_csv(work / "results" / "tables" / "vs_reported.csv")
    assert {"our_metric", "reported_metric", "pi_low", "pi_high", "reported_in_prediction_interval"} <= set(
        reported.columns
    )


def test_every_claim_gets_a_verdict_and_the_demo_holds_conclusive_ones(demo_run):
    work, cfg = demo_run
    claims = pd.read_csv(work / "results" / "tables" / "claims.csv").set_index("claim")
    assert list(claims.index) == [c.id for c in cc.all_claims(cc.sorted_keys(cfg))]  # the pipeline's order
    assert {"report", "kind", "quote", "checked", "verdict", "evidence", "n"} <= set(claims.columns)
    assert set(claims.verdict) <= {"reproduced", "contradicted", "inconclusive", "not run"}
    assert claims.loc["seed001_high_lr_at_chance", "verdict"] == "reproduced"  # it diverged: at chance
    assert claims.loc["seed000_conv_suite_passes", "verdict"] == "reproduced"  # dilation and grouping pass
    assert claims.loc["seed001_lenet_sgd", "evidence"] == "lenet_sgd is not selected in this config (key select)"
    tests = pd.read_csv(work / "results" / "tables" / "claim_tests.csv")
    three_seeds = tests[tests.n >= 3]
    assert len(three_seeds) and set(three_seeds.outcome) & {"supports", "contradicts"}  # a conclusive test


def test_number_claims_of_the_demo_compare_like_with_like(demo_run):
    """Every number claim judged on the record matching the report's metric (named in its
    evidence), with an interval inside [0, 1]; collapsed seeds and our reading are columns."""
    from cnnstudy.judging.tables import RECORDED

    work, cfg = demo_run
    reported = pd.read_csv(work / "results" / "tables" / "vs_reported.csv")
    judged = reported[reported.n >= 2]
    assert len(judged) and (judged.pi_low >= 0).all() and (judged.pi_high <= 1).all()
    claims = pd.read_csv(work / "results" / "tables" / "claims.csv", keep_default_na=False).set_index("claim")
    specs = {c.id: c.spec for c in cc.all_claims(cc.sorted_keys(cfg)) if c.kind == "number"}
    for row in reported.itertuples():
        assert row.our_metric == RECORDED[specs[row.claim]["metric"]].label
        if claims.loc[row.claim, "verdict"] != "not run":
            assert f"on {row.our_metric}" in claims.loc[row.claim, "evidence"], row.claim
    assert {"collapsed", "set_up", "reading"} <= set(claims.columns)
    assert "our reading" in set(claims.set_up)  # seed 001's and seed 004's set-ups are ours
    runs = pd.read_csv(work / "results" / "tables" / "runs.csv")
    assert runs.collapsed.dtype == bool and {"final_test_accuracy", "best_test_accuracy"} <= set(runs.columns)


def test_the_compute_table_covers_every_training_job_of_the_demo_and_sums_them(demo_run):
    work, cfg = demo_run
    table = pd.read_csv(work / "results" / "tables" / "compute.csv", keep_default_na=False)
    jobs = table[table.model != "(all)"]  # the demo has a run named "all" (imagenette_lenet)
    assert len(jobs) == len(cc.runs(cfg)) and (jobs.wall_seconds > 0).all() and (jobs.attempts >= 1).all()
    everything = table[(table.study == "(all)") & (table.model == "(all)")].iloc[0]
    assert everything.device_hours == pytest.approx(jobs.device_hours.sum())
    assert "diverged" in set(jobs.status)  # lenet_high_lr: its compute counts too


def test_selecting_two_mnist_runs_fetches_and_builds_only_mnist(tmp_path):
    cfg = demo_config()
    cfg["select"] = ["mnist_cnn_sweeps/base", "mnist_cnn_sweeps/augment"]
    cfg["studies"]["mnist_cnn_sweeps"].update(seeds=[0])
    cfg["studies"]["mnist_cnn_sweeps"]["training"].update(epochs=1)
    cfg["studies"]["mnist_cnn_sweeps"]["comparisons"] = [{"a": "augment", "b": "base", "question": "augmentation?"}]
    (tmp_path / "mnist.yaml").write_text(yaml.safe_dump(cfg))
    plan = job_counts(smk(tmp_path, "-n", "--configfile", "mnist.yaml").stdout)
    assert plan["download"] == 4 and plan["prepare_dataset"] == 1 and "coco_subset" not in plan
    assert plan["train"] == 2 and plan["study_notebook"] == 1 and "demo_coco_source" not in plan
    smk(tmp_path, "results/tables/answers.csv", "--cores", "2", "--configfile", "mnist.yaml")
    assert sorted(p.name for p in (tmp_path / "results" / "downloads").iterdir()) == [
        "mnist_test_images", "mnist_test_labels", "mnist_train_images", "mnist_train_labels"
    ]  # fmt: skip
    answers = pd.read_csv(tmp_path / "results" / "tables" / "answers.csv", dtype={"a": str, "b": str})
    hardest = answers[answers.question.str.startswith("which class is hardest")]
    assert len(hardest) == 2 and set(hardest.a) <= {str(d) for d in range(10)}
    assert answers.set_index("question").loc["augmentation?", "verdict"] == "inconclusive"  # n = 1


def test_a_study_whose_every_run_diverged_still_builds_its_tables_notebook_and_report(tmp_path):
    cfg = demo_config()
    cfg["select"] = ["cifar10_lenet_vgg/lenet_high_lr"]  # diverges on purpose
    cfg["conv_tests"].update(timing_shapes=[[2, 3, 16, 16, 4, 3, 1, 0]], timing_repeats=1)
    (tmp_path / "diverged.yaml").write_text(yaml.safe_dump(cfg))
    smk(tmp_path, "--cores", "2", "--configfile", "diverged.yaml")
    (tmp_path / "report").mkdir()
    smk(tmp_path, "--configfile", "diverged.yaml", "--report", "report/diverged.html")
    res = tmp_path / "results"
    assert "No run of this study completed" in (res / "notebooks" / "cifar10_lenet_vgg_analysis.html").read_text()
    assert "Every run diverged" in (res / "report" / "front_page.rst").read_text()
    claims = pd.read_csv(res / "tables" / "claims.csv").set_index("claim")
    assert claims.loc["seed001_high_lr_at_chance", "verdict"] == "reproduced"
    assert (tmp_path / "report" / "diverged.html").stat().st_size > 100_000


def test_an_option_the_model_does_not_use_fails_the_dry_run_naming_the_key(tmp_path):
    cfg = demo_config()
    cfg["studies"]["mnist_cnn_sweeps"]["runs"]["base"]["options"] = {"dropout": True}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(tmp_path, "-n", "--configfile", "bad.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert (
        proc.returncode != 0
        and "studies/mnist_cnn_sweeps/runs/base/options: model 'mnist_cnn' does not use option(s) ['dropout']" in out
    )


def test_full_config_plans_every_study_offline(tmp_path):
    from cnnstudy import config as cc

    full = cc.load(ROOT / "config" / "config.yaml")
    out = smk(tmp_path, "-n", "--configfile", str(ROOT / "config" / "config.yaml")).stdout
    counts = job_counts(out)
    assert counts["train"] == len(cc.runs(full)) and counts["download"] == len(full["downloads"])
    for model in ("net1", "net2", "net3"):
        for seed in range(5):
            assert f"results/runs/coco5_nets/{model}/seed{seed}/summary.json" in out
    assert {s for s, _, _ in cc.runs(full)} == {
        "coco5_nets",
        "imagenette_lenet",
        "imagenette_resnet18",
        "cifar10_lenet_vgg",
        "mnist_cnn_sweeps",
        "mnist_varres_pooling",
        "cifar10_alexnet_nin",
    }


def test_one_study_selected_on_the_command_line_plans_nothing_of_the_others(tmp_path):
    out = smk(tmp_path, "-n", "--configfile", str(ROOT / "config" / "config.yaml"), "--config",
              "select=[cifar10_lenet_vgg]").stdout  # fmt: skip
    counts = job_counts(out)
    assert counts["train"] == 6 * 5 and counts["download"] == 1 and counts["prepare_dataset"] == 1
    assert "coco_subset" not in counts and "results/downloads/cifar10/cifar-10-binary.tar.gz" in out
    assert not re.search(r"results/(downloads|datasets)/(coco|mnist|imagenette|resnet18)", out)
    bad = smk(tmp_path, "-n", "--configfile", str(ROOT / "config" / "config.yaml"), "--config", "select=[cifar100]",
              check=False)  # fmt: skip
    assert bad.returncode != 0 and "select names 'cifar100', which is not a study" in bad.stdout + bad.stderr


def test_lint_and_format_are_clean():
    lint = subprocess.run(
        [*SNAKEMAKE, "--lint", "--configfile", "config/config.yaml", "config/demo.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0 and "good condition" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stderr
    for ruff in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([sys.executable, "-m", "ruff", *ruff], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bad_config_fails_before_any_job_with_the_key_named(tmp_path):
    cfg = demo_config()
    cfg["studies"]["coco5_nets"]["runs"]["net1"]["arch"] = "net9"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(tmp_path, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0 and "unknown model 'net9'" in proc.stdout + proc.stderr
