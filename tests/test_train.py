import json

import pandas as pd
import pytest
import torch

from cnnstudy import coco, datasets
from cnnstudy.train import STOP_ENV, train_run

CLASSES = ["airplane", "bus", "cat", "dog", "pizza"]


@pytest.fixture(scope="module")
def data_file(demo_coco, tmp_path_factory):
    ann, img = demo_coco
    out = tmp_path_factory.mktemp("coco5")
    _, splits = coco.build_subset(ann, img, out, classes=CLASSES, train_per_class=20, val_per_class=8, size=32, seed=0)
    return datasets.save(out / "data.pt", splits, CLASSES) and out / "data.pt"


def cfg(**kw):
    base = dict(study="s", model="net1", seed=0, arch="net1", dataset="coco5", optimizer="adam", lr=2e-3,
                betas=[0.9, 0.99], batch_size=8, epochs=4, eval_every_steps=5, device="cpu")
    return base | kw


def run(tmp_path, name, data_file, **kw):
    return train_run(cfg(**kw), data_file, tmp_path / name, tmp_path / name / "ckpt" / "last.pt", log=lambda m: None)


def test_learns_well_above_chance_and_writes_tidy_outputs(tmp_path, data_file):
    s = run(tmp_path, "a", data_file, epochs=6)
    assert s["status"] == "completed" and s["best_val_accuracy"] > 0.6  # chance is 0.2
    m = pd.read_csv(tmp_path / "a" / "metrics.csv")
    assert set(m.scope) == {"step", "epoch"} and set(m.split) == {"train", "val"}
    assert len(m[(m.scope == "epoch")]) == 2 * 6
    assert (m[m.scope == "step"].step % 5 == 0).all()
    c = pd.read_csv(tmp_path / "a" / "confusion.csv")
    assert set(c.split) == {"train", "val"} and c[c.split == "val"]["count"].sum() == 40
    g = pd.read_csv(tmp_path / "a" / "grad_norms.csv")
    assert list(g[g.step == 5].layer) == ["features.0.weight", "features.3.weight", "head.0.weight", "head.2.weight"]
    assert (g.grad_norm > 0).all() and set(g.step) == set(m[m.scope == "step"].step)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["config"]["lr"] == 2e-3 and len(summary["data_sha256"]["train"]) == 64
    assert summary["device"] == "cpu" and summary["parameters"] > 0


def test_same_seed_gives_identical_metrics_other_seed_differs(tmp_path, data_file):
    run(tmp_path, "a", data_file, epochs=2)
    run(tmp_path, "b", data_file, epochs=2)
    run(tmp_path, "c", data_file, epochs=2, seed=1)
    a, b, c = (pd.read_csv(tmp_path / n / "metrics.csv") for n in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert not a.loss.equals(c.loss)


def test_killed_run_resumes_exactly(tmp_path, data_file, monkeypatch):
    aug = {"hflip": True, "crop_padding": 2, "color_jitter": {"brightness": 0.2}}
    run(tmp_path, "full", data_file, augment=aug, arch="lenet", options={"dropout": True}, model="lenet")
    monkeypatch.setenv(STOP_ENV, "2")
    with pytest.raises(SystemExit):
        run(tmp_path, "killed", data_file, augment=aug, arch="lenet", options={"dropout": True}, model="lenet")
    assert not (tmp_path / "killed" / "metrics.csv").exists()
    monkeypatch.delenv(STOP_ENV)
    logs = []
    train_run(cfg(augment=aug, arch="lenet", options={"dropout": True}, model="lenet"), data_file, tmp_path / "killed",
              tmp_path / "killed" / "ckpt" / "last.pt", log=logs.append)
    assert any("resumed" in m and "epoch 2" in m for m in logs)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "full" / "metrics.csv"), pd.read_csv(tmp_path / "killed" / "metrics.csv"))


def test_changed_config_does_not_resume_a_stale_checkpoint(tmp_path, data_file):
    run(tmp_path, "a", data_file, epochs=2)
    logs = []
    train_run(cfg(epochs=2, lr=1e-3), data_file, tmp_path / "a", tmp_path / "a" / "ckpt" / "last.pt", log=logs.append)
    assert any("starting afresh" in m for m in logs) and not any("resumed" in m for m in logs)


def test_divergence_is_recorded_not_raised(tmp_path, data_file):
    s = run(tmp_path, "d", data_file, lr=1e6, optimizer="sgd", epochs=5)
    assert s["status"] == "diverged" and s["epochs_run"] < 5
    m = pd.read_csv(tmp_path / "d" / "metrics.csv")
    assert len(m[m.scope == "epoch"]) == 2 * s["epochs_run"]  # history up to the divergence
    assert (tmp_path / "d" / "summary.json").exists()


def test_test_split_is_evaluated_with_the_best_epoch(tmp_path, data_file):
    d = datasets.load(data_file)
    splits = {k: (v["x"].numpy(), v["y"].numpy()) for k, v in d["splits"].items()}
    splits["test"] = splits["val"]
    datasets.save(tmp_path / "with_test.pt", splits, d["classes"])
    s = run(tmp_path, "t", tmp_path / "with_test.pt", epochs=2)
    assert s["test_accuracy"] == pytest.approx(s["best_val_accuracy"])  # same images as val


def test_frozen_bn_stays_in_eval_mode(tmp_path, data_file):
    from cnnstudy.train import _set_train_mode
    from cnnstudy.models import build_model

    m = build_model("resnet18_tl", (3, 32, 32), 5, train_bn=False)
    _set_train_mode(m)
    bns = [x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)]
    assert bns and not any(b.training for b in bns) and m.fc.training


def test_variable_resolution_batches_hold_one_size_and_cover_every_sample():
    from cnnstudy.train import batch_plan

    sizes = torch.tensor([32, 48, 64, 32, 32, 48, 64, 64, 64, 32, 48])
    order, bounds = batch_plan(len(sizes), 2, torch.Generator().manual_seed(0), sizes)
    assert sorted(order.tolist()) == list(range(len(sizes)))
    for start, end, s in bounds:
        assert (sizes[order[start:end]] == s).all()
    assert len({s for _, _, s in bounds}) == 3


def test_checkpoint_of_other_training_code_is_not_resumed(tmp_path, data_file, monkeypatch):
    from cnnstudy import train

    run(tmp_path, "a", data_file, epochs=2)
    monkeypatch.setattr(train, "training_code", lambda: "edited")
    logs = []
    train_run(cfg(epochs=2), data_file, tmp_path / "a", tmp_path / "a" / "ckpt" / "last.pt", log=logs.append)
    assert any("starting afresh" in m for m in logs) and sum("epoch " in m and "/2" in m for m in logs) == 2


def test_normalizer_statistics_in_chunks_equal_the_direct_ones():
    from cnnstudy.train import Normalizer

    x = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8)
    norm = Normalizer(x, chunk=7)
    f = x.float() / 255
    torch.testing.assert_close(norm.mean.flatten(), f.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(norm.std.flatten(), f.std(dim=(0, 2, 3)))
