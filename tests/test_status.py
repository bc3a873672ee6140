"""The status command: every state read from the files the pipeline writes, and a real run watched."""

import os
import subprocess
import sys
import time

import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, demo_config, run_summary

from cnnstudy import config as cc
from cnnstudy import status
from cnnstudy.__main__ import main
from cnnstudy.paths import progress_of
from cnnstudy.records import Progress, write_record

LINE = "[12:00:0{i}] s/r/seed0 epoch {e}/{n} step {e}0 train loss 1.0 ..."  # what a person reads; status does not
START = "[12:00:00] device cpu (x86_64, compute capability None), precision fp32, TF32 off, deterministic True"


@pytest.fixture
def study(tmp_path):
    """The demo's mnist sweep (base, lr_1e_2; three seeds each) and a results folder to fill."""
    cfg = demo_config()
    cfg["select"] = ["mnist_cnn_sweeps/base", "mnist_cnn_sweeps/lr_1e_2"]
    return cc.validate(cfg), tmp_path / "results"


def write_summary(results, run, seed, status_="completed", seconds=30.0, epochs=5, final_val=0.9):
    record = run_summary(study="mnist_cnn_sweeps", model=run, seed=seed, status=status_, seconds=seconds,
                         epochs_run=epochs, final_val_accuracy=final_val)  # fmt: skip
    write_record(record, results / "runs" / "mnist_cnn_sweeps" / run / f"seed{seed}" / "summary.json")


def write_log(results, run, seed, lines, age=0.0, progress=None):
    """A training log of ``lines``, last written ``age`` seconds ago, and beside it the
    trainer's Progress record of its last epoch: (epoch, val accuracy, ETA seconds)."""
    log = results / "logs" / "train" / "mnist_cnn_sweeps" / run / f"seed{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(lines) + "\n")
    if progress:
        epoch, acc, eta = progress
        write_record(Progress(epoch, 5, 10 * epoch, acc, 2.0, eta, written_at=time.time() - age), progress_of(log))
    os.utime(log, (time.time() - age, time.time() - age))
    return log


def test_every_state_is_read_from_the_pipelines_files(study):
    config, results = study
    write_summary(results, "base", 0, seconds=40)
    write_summary(results, "base", 1, status_="diverged", epochs=2)
    progress = [START, LINE.format(i=1, e=1, n=5, a=5, eta=8), LINE.format(i=2, e=2, n=5, a=7, eta=6)]
    write_log(results, "base", 2, progress, progress=(2, 0.7, 6))
    failed = write_log(
        results, "lr_1e_2", 0, [*progress, "[12:00:03] ERROR: CUDA error: out of memory"], progress=(2, 0.7, 6)
    )
    write_log(results, "lr_1e_2", 1, progress, age=3600, progress=(2, 0.7, 6))
    write_log(results, "lr_1e_2", 2, [START, "[12:00:05] SIGTERM after epoch 2: checkpointed in x; exiting"])
    rows = {(r.run, r.seed): r for r in status.collect(config, results)}
    assert rows["base", 0].state == "done" and rows["base", 0].seconds_left == 0
    assert rows["base", 1].state == "diverged" and (rows["base", 1].epoch, rows["base", 1].epochs) == (2, 5)
    training = rows["base", 2]
    assert training.state == "training" and (training.epoch, training.epochs, training.val_accuracy) == (2, 5, 0.7)
    assert 5 < training.seconds_left <= 6  # the record's ETA, less the time since it was written
    assert rows["lr_1e_2", 0].state == "failed" and str(failed) in rows["lr_1e_2", 0].detail
    assert "CUDA error: out of memory" in rows["lr_1e_2", 0].detail
    assert rows["lr_1e_2", 1].state == "stalled" and "no progress for 60 min" in rows["lr_1e_2", 1].detail
    assert rows["lr_1e_2", 2].state == "stopped" and rows["lr_1e_2", 2].seconds_left == 5 * 2.0  # its seeds' epochs


def test_time_left_comes_from_finished_seeds_then_the_projection(study):
    config, results = study
    write_summary(results, "base", 0, seconds=40)
    write_summary(results, "base", 1, seconds=60)
    (results / "performance").mkdir(parents=True)
    (results / "performance" / "projection.csv").write_text(
        "study,run,seconds_per_seed\nmnist_cnn_sweeps,lr_1e_2,100\nmnist_cnn_sweeps,base,999\n"
    )
    rows = status.collect(config, results)
    by = {(r.run, r.seed): r for r in rows}
    assert by["base", 2].state == "waiting" and by["base", 2].seconds_left == 50  # its own seeds' mean
    assert by["lr_1e_2", 0].seconds_left == 100  # the projection where no seed has finished
    total = status.totals(rows)[None]
    assert total["done"] == 2 and total["waiting"] == 4 and total["seconds_left"] == 50 + 3 * 100


def test_the_command_exits_1_when_a_run_failed_and_0_otherwise(study, tmp_path, capsys):
    config, results = study
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    args = ["status", "--configfile", str(tmp_path / "c.yaml"), "--results", str(results), "--all"]
    assert main(args) == 0
    assert "6 runs: 6 waiting" in capsys.readouterr().out
    write_log(results, "base", 0, [START, "[12:00:01] ERROR: boom"])
    assert main(args) == 1 and "failed" in capsys.readouterr().out


@pytest.mark.integration
def test_status_follows_a_real_run_from_training_to_done(tmp_path):
    cfg = demo_config()
    cfg["select"] = ["coco5_nets/net1"]
    cfg["studies"]["coco5_nets"].update(seeds=[0])
    cfg["studies"]["coco5_nets"]["training"].update(epochs=40)  # long enough to be seen training
    cfg["conv_tests"].update(timing_shapes=[[2, 3, 16, 16, 4, 3, 1, 0]], timing_repeats=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    command = [sys.executable, "-m", "cnnstudy", "status", "--configfile", "c.yaml"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "160"}
    run = subprocess.Popen([*SNAKEMAKE, "--cores", "2", "--configfile", "c.yaml"], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    seen, deadline = "", time.time() + 300
    while run.poll() is None and time.time() < deadline:
        out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env).stdout
        if "training" in out and "/40" in out:
            seen = out
            break
        time.sleep(1)
    assert run.wait(timeout=600) == 0
    assert "1 training" in seen and "coco5_nets / net1 / seed0" in seen, seen  # an epoch of 40, its time left
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "1 runs: 1 done. Time left: 0s" in done.stdout, done.stdout


def test_a_seed_that_finished_at_chance_shows_as_collapsed(study):
    config, results = study
    write_summary(results, "base", 0)
    write_summary(results, "base", 1, final_val=0.105)
    rows = {(r.run, r.seed): r for r in status.collect(config, results)}
    assert rows["base", 1].state == "collapsed" and "ended at chance (0.105" in rows["base", 1].detail
    assert rows["base", 0].state == "done" and status.totals(list(rows.values()))[None]["collapsed"] == 1
