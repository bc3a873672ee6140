import dataclasses
import re
import subprocess
import sys

import pandas as pd
import pytest
import torch
from conftest import ROOT

from cnnstudy import config as cc
from cnnstudy.nets.models import build_model
from cnnstudy.performance import projection


def test_projection_covers_every_run_with_measured_rates_and_its_seeds():
    demo = cc.load(ROOT / "config" / "config.yaml", ROOT / "config" / "demo.yaml")
    table = projection.project(demo, budget=0.02, log=lambda m: None)
    runs = {(s, r) for s, r, _ in cc.runs(demo)}
    assert set(zip(table.study, table.run)) == runs
    assert (table.steps_per_second > 0).all() and (table.seconds > 0).all()
    row = table.set_index(["study", "run"]).loc["coco5_nets", "net1"]
    assert row.train_images == 5 * 40 and row.steps_per_seed == 4 * 50  # 200 images, batch 4, 4 epochs
    assert row.seconds == pytest.approx(row.seconds_per_seed * 2)  # two seeds
    totals = projection.per_study(table).set_index("study")
    assert totals.loc["total", "seconds"] == pytest.approx(table.seconds.sum())


def test_the_pipeline_projects_on_the_sizes_it_prepared(tmp_path):
    demo = cc.load(ROOT / "config" / "config.yaml", ROOT / "config" / "demo.yaml")
    demo["select"] = ["coco5_nets/net1"]
    counts = tmp_path / "coco5_counts.csv"
    counts.write_text("split,class,count\ntrain,cat,6\ntrain,dog,4\nval,cat,3\n")
    sizes = projection.prepared_sizes({"coco5": counts})
    assert sizes == {"coco5": (10, 3)}
    row = projection.project(demo, budget=0.02, log=lambda m: None, prepared=projection.Prepared(sizes, {})).iloc[0]
    assert row.train_images == 10 and row.steps_per_seed == 4 * 3  # 10 images in batches of 4, 4 epochs


def test_official_split_sizes_follow_the_config():
    full = cc.load(ROOT / "config" / "config.yaml")
    assert projection.split_sizes(full, "cifar10") == (45000, 5000)
    assert projection.split_sizes(full, "mnist") == (50000, 10000)
    assert projection.split_sizes(full, "mnist_varres") == (50000, 10000)
    assert projection.split_sizes(full, "coco5") == (7500, 2500)
    assert isinstance(projection.per_study(pd.DataFrame({"study": ["a"], "seconds": [3600.0]})).hours.iloc[-1], float)


def test_train_benchmark_times_every_loop_side_by_side():
    """The benchmark script itself, at a hundredth of its images: every loop timed, a ratio each."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_benchmark.py"), "--rounds", "1", "--scale", "0.01"],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout  # fmt: skip
    for setting in ("coco5: net1, 75/25 images", "cifar10: lenet, 450/50 images"):
        assert setting in out
    lines = re.findall(r"^  (.+?)\s+([\d.]+) s/epoch(?:\s+([\d.]+)x faster)?$", out, flags=re.M)
    labels = ["reports' loop", "ours, the reports' cadence", "ours, + 500-image val subset per mark",
              "ours, the reports' cadence, bf16", "ours, the reports' cadence, non-deterministic",
              "ours, the reports' cadence, + TensorBoard", "floor: bare fp32 training steps"]  # fmt: skip
    assert [label for label, _, _ in lines] == labels * 2
    assert all(float(seconds) > 0 for _, seconds, _ in lines)
    assert all(float(ratio) > 0 for label, _, ratio in lines if label != "reports' loop")
    costs = [float(c) for c in re.findall(r"TensorBoard's cost: ([\d.]+) % of an epoch", out)]
    assert len(costs) == 2 and all(0 < c < 100 for c in costs)


def test_a_runs_memory_is_measured_from_its_steps_tensors_which_grow_with_its_batch():
    demo = cc.load(ROOT / "config" / "config.yaml", ROOT / "config" / "demo.yaml")
    cfg = cc.run_config(demo, "cifar10_lenet_vgg", "lenet_adam", 0)
    shape = cc.input_shape(demo, "cifar10_lenet_vgg", "lenet_adam")
    cpu = torch.device("cpu")
    step = {b: projection.measure(dataclasses.replace(cfg, batch_size=b), shape, 10, cpu, 0.01).step_bytes
            for b in (8, 16, 64)}  # fmt: skip
    # every layer's output grows with the batch, linearly; weights, gradients and Adam's state do not
    assert step[64] - step[8] == 7 * (step[16] - step[8]) > 0
    state = step[8] - (step[16] - step[8])
    weights = sum(p.nbytes for p in build_model("lenet", shape, 10).parameters())
    assert state >= 4 * weights  # weights, gradients and Adam's two moments


def test_the_projection_gives_each_run_its_memory_on_the_prepared_datasets(tmp_path):
    demo = cc.load(ROOT / "config" / "config.yaml", ROOT / "config" / "demo.yaml")
    demo["select"] = ["coco5_nets/net1", "coco5_nets/net3"]
    prepared = projection.Prepared(sizes={"coco5": (10, 3)}, data_mb={"coco5": 123.0})
    table = projection.project(demo, budget=0.02, log=lambda m: None, prepared=prepared).set_index("run")
    assert (table.memory_mb > 123.0 + projection.process_mb() * 0.5).all()  # the process, the dataset, the step
    assert table.memory_mb["net3"] > table.memory_mb["net1"]  # ten more convs: more weights and activations
