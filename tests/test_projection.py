import pandas as pd
import pytest
from conftest import ROOT

from cnnstudy import config as cc
from cnnstudy import projection


def test_projection_covers_every_run_with_measured_rates_and_its_seeds():
    demo = cc.load(ROOT / "config" / "demo.yaml")
    table = projection.project(demo, budget=0.02, log=lambda m: None)
    runs = {(s, r) for s, r, _ in cc.runs(demo)}
    assert set(zip(table.study, table.run)) == runs
    assert (table.steps_per_second > 0).all() and (table.seconds > 0).all()
    row = table.set_index(["study", "run"]).loc["coco5_nets", "net1"]
    assert row.train_images == 5 * 40 and row.steps_per_seed == 6 * 50  # 200 images, batch 4, 6 epochs
    assert row.seconds == pytest.approx(row.seconds_per_seed * 2)  # two seeds
    totals = projection.per_study(table).set_index("study")
    assert totals.loc["total", "seconds"] == pytest.approx(table.seconds.sum())


def test_official_split_sizes_follow_the_config():
    full = cc.load(ROOT / "config" / "config.yaml")
    assert projection.split_sizes(full, "cifar10") == (45000, 5000)
    assert projection.split_sizes(full, "mnist") == (50000, 10000)
    assert projection.split_sizes(full, "mnist_varres") == (50000, 10000)
    assert projection.split_sizes(full, "coco5") == (7500, 2500)
    assert isinstance(projection.per_study(pd.DataFrame({"study": ["a"], "seconds": [3600.0]})).hours.iloc[-1], float)
