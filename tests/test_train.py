import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import board_scalars

from cnnstudy.data import coco, datasets
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.train import train_run

CLASSES = ["airplane", "bus", "cat", "dog", "pizza"]


@pytest.fixture(scope="module")
def data_file(demo_coco, tmp_path_factory):
    ann, img = demo_coco
    out = tmp_path_factory.mktemp("coco5")
    _, splits = coco.build_subset(ann, img, out, classes=CLASSES, train_per_class=20, val_per_class=8, size=32, seed=0)
    return datasets.save(out / "data.pt", splits, CLASSES) and out / "data.pt"


def cfg(**kw) -> RunConfig:
    base = dict(
        study="s",
        run="net1",
        seed=0,
        arch="net1",
        dataset="coco5",
        options={},
        conv_impl="torch",
        optimizer="adam",
        lr=2e-3,
        betas=(0.9, 0.99),
        batch_size=8,
        epochs=4,
        eval_every_steps=5,
        eval_subset=500,
        eval_batch_size=512,
        device="cpu",
        deterministic=True,
        precision="auto",
        weight_decay=0.0,
    )
    return RunConfig(**(base | kw))


def run(tmp_path, name, data_file, log=lambda m: None, **kw):
    return train_run(cfg(**kw), data_file, tmp_path / name, tmp_path / name / "ckpt" / "last.pt", log=log)


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
    assert summary["config"]["lr"] == 2e-3 and summary["data_sha256"] == datasets.load(data_file)["sha256"]
    assert summary["device"] == "cpu" and summary["parameters"] > 0 and summary["images_per_second"] > 0


def test_same_seed_gives_identical_metrics_other_seed_differs(tmp_path, data_file):
    run(tmp_path, "a", data_file, epochs=2)
    run(tmp_path, "b", data_file, epochs=2)
    run(tmp_path, "c", data_file, epochs=2, seed=1)
    a, b, c = (pd.read_csv(tmp_path / n / "metrics.csv") for n in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert not a.loss.equals(c.loss)


def test_changed_config_does_not_resume_a_stale_checkpoint(tmp_path, data_file):
    run(tmp_path, "a", data_file, epochs=2)
    logs = []
    run(tmp_path, "a", data_file, log=logs.append, epochs=2, lr=1e-3)
    assert any("other settings; starting afresh" in m for m in logs) and not any("resumed" in m for m in logs)


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
    from cnnstudy.nets.models import build_model
    from cnnstudy.training.epoch import _set_train_mode

    m = build_model("resnet18_tl", (3, 32, 32), 5, train_bn=False)
    _set_train_mode(m)
    bns = [x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)]
    assert bns and not any(b.training for b in bns) and m.fc.training


def test_variable_resolution_batches_hold_one_size_and_cover_every_sample():
    from cnnstudy.training.inputs import batch_plan

    sizes = torch.tensor([32, 48, 64, 32, 32, 48, 64, 64, 64, 32, 48])
    order, bounds = batch_plan(len(sizes), 2, torch.Generator().manual_seed(0), sizes)
    assert sorted(order.tolist()) == list(range(len(sizes)))
    for start, end, s in bounds:
        assert (sizes[order[start:end]] == s).all()
    assert len({s for _, _, s in bounds}) == 3


def test_checkpoint_of_other_training_code_is_not_resumed(tmp_path, data_file, monkeypatch):
    from cnnstudy.training import resume

    run(tmp_path, "a", data_file, epochs=2)
    monkeypatch.setattr(resume, "training_code", lambda: "edited")
    logs = []
    run(tmp_path, "a", data_file, log=logs.append, epochs=2)
    assert (
        any("other training code; starting afresh" in m for m in logs)
        and sum(" epoch " in m and "/2" in m for m in logs) == 2
    )


def test_normalizer_statistics_in_chunks_equal_the_direct_ones():
    from cnnstudy.training.inputs import Normalizer

    x = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8)
    norm = Normalizer(x, chunk=7)
    f = x.float() / 255
    torch.testing.assert_close(norm.mean.flatten(), f.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(norm.std.flatten(), f.std(dim=(0, 2, 3)))
    out = norm(x)  # standardized, in the layout of the placed model
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, (f - norm.mean) / norm.std)


def _restamped(data_file, tmp_path, drop_val: int) -> Path:
    """The same dataset with ``drop_val`` validation images fewer: other data, other sha256."""
    d = datasets.load(data_file)
    splits = {k: (v["x"].numpy(), v["y"].numpy()) for k, v in d["splits"].items()}
    x, y = splits["val"]
    splits["val"] = (x[drop_val:], y[drop_val:])
    datasets.save(tmp_path / "other.pt", splits, d["classes"])
    return tmp_path / "other.pt"


def test_changed_data_does_not_resume(tmp_path, data_file):
    run(tmp_path, "a", data_file, epochs=2)
    logs = []
    s = run(tmp_path, "a", _restamped(data_file, tmp_path, 1), log=logs.append, epochs=2)
    assert any("other data; starting afresh" in m for m in logs) and not any("resumed" in m for m in logs)
    assert s["data_sha256"]["val"] != datasets.load(data_file)["sha256"]["val"]


def test_bit_flipped_or_truncated_dataset_is_refused_naming_its_path_and_rule(tmp_path, data_file):
    raw = bytearray(data_file.read_bytes())
    x = datasets.load(data_file)["splits"]["train"]["x"].numpy().tobytes()
    at = raw.find(x[:64]) + 1000  # inside the training images' bytes
    raw[at] ^= 0x01
    flipped = tmp_path / "flipped.pt"
    flipped.write_bytes(bytes(raw))
    with pytest.raises(datasets.DatasetError, match=f"{flipped}.*(sha256|readable).*prepare_dataset or coco_subset"):
        run(tmp_path, "f", flipped, epochs=1)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data_file.read_bytes()[:5000])
    with pytest.raises(datasets.DatasetError, match=f"{truncated} is not a readable prepared dataset"):
        run(tmp_path, "t", truncated, epochs=1)


def test_truncated_checkpoint_is_reported_kept_aside_and_the_run_starts_afresh(tmp_path, data_file):
    run(tmp_path, "a", data_file, epochs=2)
    ckpt = tmp_path / "a" / "ckpt" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    logs = []
    run(tmp_path, "a", data_file, log=logs.append, epochs=3)
    assert any(f"checkpoint {ckpt} is unreadable" in m and "starting afresh" in m for m in logs)
    assert (ckpt.parent / "last.pt.corrupt").exists()
    run(tmp_path, "fresh", data_file, epochs=3)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "a" / "metrics.csv"), pd.read_csv(tmp_path / "fresh" / "metrics.csv")
    )


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_in_a_checkpoint_does_not_execute(tmp_path, data_file):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "a" / "ckpt" / "last.pt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"format": 3, "model": _Payload(marker)}, ckpt)
    logs = []
    s = run(tmp_path, "a", data_file, log=logs.append, epochs=1)
    assert not marker.exists() and s["status"] == "completed"
    refused = next(m for m in logs if "is unreadable (UnpicklingError" in m)
    # PyTorch's whole reason, not cut before its warning, and ours: never weights_only=False
    assert "it can result in arbitrary code execution" in refused and "unsupported GLOBAL posix.system" in refused
    assert "never otherwise" in refused and "starting afresh" in refused


def _flip_one_bit(path, near: bytes | None = None):
    """Flip one bit in the middle of ``path`` (or inside the first occurrence of ``near``)."""
    data = bytearray(path.read_bytes())
    at = data.index(near) + 1 if near else len(data) // 2
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_bit_flipped_checkpoint_that_still_loads_is_not_resumed(tmp_path, data_file):
    """The bit lands in the payload (a weight, say): the file still loads, its sha256 does not match."""
    run(tmp_path, "a", data_file, epochs=2)
    ckpt = tmp_path / "a" / "ckpt" / "last.pt"
    _flip_one_bit(ckpt)
    logs = []
    run(tmp_path, "a", data_file, log=logs.append, epochs=3)
    assert any("does not match its sha256: changed on disk" in m and "starting afresh" in m for m in logs), logs
    assert (ckpt.parent / "last.pt.corrupt").exists() and not any(m.startswith("resumed") for m in logs)


def test_a_checkpoint_write_that_fails_names_the_file_and_cause_and_leaves_no_temporary(tmp_path, monkeypatch):
    from cnnstudy.training import checkpoint

    path = tmp_path / "ckpt" / "last.pt"
    checkpoint.save(path, {"weights": torch.ones(3)})
    real_save = torch.save

    def disk_full(obj, f, *args, **kw):
        if isinstance(f, os.PathLike | str):
            Path(f).write_bytes(b"partial")
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *args, **kw)

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(
        checkpoint.CheckpointError, match=r"could not write checkpoint .*last.pt .*No space left on device.*MB free"
    ):
        checkpoint.save(path, {"weights": torch.zeros(3)})
    assert not (path.parent / "last.pt.tmp").exists()
    assert torch.equal(checkpoint.read(path, print)["weights"], torch.ones(3))  # the previous one is untouched


def test_bit_flipped_class_names_of_a_dataset_are_refused(tmp_path):
    x = np.zeros((4, 3, 8, 8), np.uint8)
    datasets.save(tmp_path / "d.pt", {"train": (x, [0, 1, 0, 1]), "val": (x, [0, 1, 0, 1])}, ["airplane", "bus"])
    _flip_one_bit(tmp_path / "d.pt", near=b"airplane")  # airplane -> aiqplane: the file still loads
    assert datasets.load(tmp_path / "d.pt", verify=False)["classes"][0] != "airplane"
    with pytest.raises(datasets.DatasetError, match="class names or metadata do not match their recorded sha256"):
        datasets.load(tmp_path / "d.pt")


KILLABLE = """
import json, sys
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.train import train_run
cfg = RunConfig(**json.loads(sys.argv[1]))
train_run(cfg, sys.argv[2], sys.argv[3], sys.argv[4], log=lambda m: print(m, flush=True))
"""


def test_sigkilled_training_process_resumes_exactly(tmp_path, data_file):
    """A real process killed mid-run (SIGKILL: no handler runs) resumes from its last epoch
    checkpoint and ends with the numbers of an uninterrupted run."""
    kw = dict(
        augment={"hflip": True, "crop_padding": 2, "color_jitter": {"brightness": 0.2, "hue": 0.05}},
        arch="lenet",
        run="lenet",
        options={"dropout": True},
        epochs=25,
    )
    out, ckpt = tmp_path / "killed", tmp_path / "killed" / "ckpt" / "last.pt"
    settings = json.dumps(dataclasses.asdict(cfg(**kw)))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, settings, str(data_file), str(out), str(ckpt)],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    printed = proc.communicate()[0]
    assert proc.returncode == -signal.SIGKILL, printed
    assert not (out / "metrics.csv").exists()
    logs = []
    train_run(cfg(**kw), data_file, out, ckpt, log=logs.append)
    resumed = [m for m in logs if m.startswith("resumed")]
    assert resumed and int(resumed[0].rsplit(" ", 1)[1]) < 25
    run(tmp_path, "full", data_file, **kw)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "full" / "metrics.csv"), pd.read_csv(out / "metrics.csv"))


def test_step_marks_score_a_fixed_validation_subset_or_none(tmp_path, data_file):
    run(tmp_path, "sub", data_file, epochs=2, eval_subset=16)
    m = pd.read_csv(tmp_path / "sub" / "metrics.csv")
    step_val = m[(m.scope == "step") & (m.split == "val")]
    assert len(step_val) and (step_val.images == 16).all()
    assert (m[(m.scope == "epoch") & (m.split == "val")].images == 40).all()  # the whole split every epoch
    run(tmp_path, "none", data_file, epochs=2, eval_subset=0)
    m = pd.read_csv(tmp_path / "none" / "metrics.csv")
    assert m[m.scope == "step"].split.unique().tolist() == ["train"]


def test_bf16_autocast_is_a_recorded_setting_and_still_learns(tmp_path, data_file):
    s = run(tmp_path, "bf16", data_file, epochs=4, precision="bf16", deterministic=False)
    assert s["precision"] == "bf16" and s["best_val_accuracy"] > 0.5
    assert run(tmp_path, "fp32", data_file, epochs=1)["precision"] == "fp32"  # auto on CPU


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_checkpoints_mid_epoch_and_the_rerun_resumes_exactly(tmp_path, stop):
    """SLURM preempts or times out a job with SIGTERM, Ctrl-C sends SIGINT: the run saves where
    it stands inside the epoch and exits 143 (130); its rerun finishes that epoch and matches an
    uninterrupted run."""
    gen = np.random.default_rng(0)  # long epochs of tiny steps: the signal lands inside the first one
    x = gen.integers(0, 256, (3000, 1, 8, 8), dtype=np.uint8)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > 127).astype(np.int64) + 2 * (x[:, 0, 4:].mean(axis=(1, 2)) > 127)
    data_file = tmp_path / "long.pt"
    datasets.save(data_file, {"train": (x[:2980], y[:2980]), "val": (x[2980:], y[2980:])}, list("abcd"))
    kw = dict(arch="mnist_cnn", run="mnist_cnn", batch_size=2, epochs=2, eval_every_steps=50, eval_subset=8,
              augment={"rotation": 10, "color_jitter": {"contrast": 0.2}}, betas=None)  # fmt: skip
    out, ckpt = tmp_path / "stopped", tmp_path / "stopped" / "ckpt" / "last.pt"
    settings = json.dumps(dataclasses.asdict(cfg(**kw)))
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, settings, str(data_file), str(out), str(ckpt)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert any("epochs 1-2" in proc.stdout.readline() for _ in range(2))  # after the device line: training
    time.sleep(0.3)
    proc.send_signal(stop)
    printed = proc.communicate(timeout=300)[0]
    assert proc.returncode == 128 + stop, printed
    assert f"{stop.name} in epoch 1: checkpointed at batch" in printed, printed
    logs = []
    train_run(cfg(**kw), data_file, out, ckpt, log=logs.append)
    assert any(m.startswith("resumed") and "in epoch 1 at batch" in m for m in logs), logs
    run(tmp_path, "full", data_file, **kw)
    for name in ("metrics.csv", "grad_norms.csv", "confusion.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "full" / name), pd.read_csv(out / name))


def test_an_unknown_augmentation_switch_fails_the_run_before_training(tmp_path, data_file):
    from cnnstudy.training.augment import AugmentConfigError

    with pytest.raises(AugmentConfigError, match="vflip"):
        run(tmp_path, "v", data_file, epochs=1, augment={"vflip": True})
    assert not (tmp_path / "v" / "ckpt" / "last.pt").exists()


def test_a_checkpoint_is_read_onto_the_cpu_so_resuming_on_another_device_works(tmp_path, data_file, monkeypatch):
    """On a GPU, reading a checkpoint with map_location=<the run's device> put the saved
    generator states on CUDA and every resume failed (RNG state must be a torch.ByteTensor).
    Reproduced here by a loader that maps a checkpoint not read onto the CPU to 'meta'."""
    real_load = torch.load

    def off_the_cpu(path, map_location=None, **kw):
        if str(path).endswith("last.pt") and map_location != "cpu":
            map_location = "meta"
        return real_load(path, map_location=map_location, **kw)

    first = run(tmp_path, "a", data_file, epochs=2)
    monkeypatch.setattr(torch, "load", off_the_cpu)
    logs = []
    again = run(tmp_path, "a", data_file, log=logs.append, epochs=2)
    assert any(m.startswith("resumed from") for m in logs), logs
    assert again["best_val_accuracy"] == first["best_val_accuracy"]


def test_a_checkpoints_progress_moves_to_the_runs_device_but_the_batch_order_stays_on_the_host():
    from cnnstudy.training.epoch import EpochProgress, EpochRecord, StepMark
    from cnnstudy.training.inputs import Evaluation

    record = EpochRecord(
        torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long), torch.zeros(2), torch.ones(2)
    )
    mark = StepMark(
        5, torch.zeros(2), 8, Evaluation(torch.zeros(()), torch.zeros(()), torch.zeros(2, 2), 4), torch.ones(3)
    )
    order = torch.Generator().manual_seed(0).get_state()
    state = EpochProgress(order, 1, record, [mark]).to_state()
    moved = EpochProgress.from_state(state, torch.device("meta"))
    assert moved.record.losses.device.type == "meta" and moved.marks[0].val.confusion.device.type == "meta"
    assert moved.order_state.device.type == "cpu" and torch.equal(moved.order_state, order)
    torch.Generator().set_state(moved.order_state)  # what resuming does with it


def test_a_checkpoint_from_another_device_or_precision_is_named_and_not_resumed(tmp_path, data_file):
    run(tmp_path, "a", data_file, epochs=2)
    from cnnstudy.training import checkpoint

    path = tmp_path / "a" / "ckpt" / "last.pt"
    state = checkpoint.read(path, log=print)
    state["resume_key"].update(device="cuda", precision="bf16")  # as written on an Ampere GPU with auto
    checkpoint.save(path, state)
    logs = []
    run(tmp_path, "a", data_file, log=logs.append, epochs=2)
    assert any("written with other device, precision; starting afresh" in m for m in logs), logs


def test_the_summary_records_where_and_how_the_run_computed(tmp_path, data_file):
    s = run(tmp_path, "a", data_file, epochs=1)
    assert s["device"] == "cpu" and s["precision"] == "fp32" and s["tf32"] is False and s["capability"] is None
    assert s["device_name"] and "cuda_build" in s
    assert all(t.device.type == "cpu" for t in torch.load(tmp_path / "a" / "best_model.pt", weights_only=True).values())


def test_a_nondeterministic_op_fails_the_run_naming_itself_in_the_log(tmp_path, data_file, monkeypatch):
    """Deterministic mode raises (no warn_only, whose warning went to stderr outside the rule
    log). CPU kernels are deterministic but for a few: put_ without accumulation, called here
    from inside a training step as a CUDA-only kernel would be on a GPU."""
    import torch.nn.functional as F

    from cnnstudy.logs import script_log

    real = F.cross_entropy

    def with_a_nondeterministic_op(*args, **kw):
        torch.zeros(2).put_(torch.tensor([0]), torch.ones(1))
        return real(*args, **kw)

    monkeypatch.setattr(F, "cross_entropy", with_a_nondeterministic_op)
    log_file = tmp_path / "train.log"
    with (
        pytest.raises(RuntimeError, match="put_ does not have a deterministic implementation"),
        script_log(log_file) as log,
    ):
        run(tmp_path, "nd", data_file, log=log, epochs=1)
    assert "ERROR: put_ does not have a deterministic implementation" in log_file.read_text()
    s = run(tmp_path, "fast", data_file, epochs=1, deterministic=False)  # allowed when asked for
    assert s["status"] == "completed"


def test_tensorboard_holds_the_rows_of_metrics_csv(tmp_path, data_file):
    board = tmp_path / "tb"
    train_run(cfg(epochs=2), data_file, tmp_path / "a", tmp_path / "a" / "ckpt" / "last.pt", log=print, board_dir=board)
    scalars = board_scalars(board)
    m = pd.read_csv(tmp_path / "a" / "metrics.csv")
    for (scope, split), rows in m.groupby(["scope", "split"]):
        for name in ("loss", "accuracy"):
            steps, values = zip(*scalars[f"{scope}/{split}_{name}"])
            assert list(steps) == rows.step.tolist() and values == pytest.approx(rows[name].tolist(), rel=1e-6)
    g = pd.read_csv(tmp_path / "a" / "grad_norms.csv")
    assert len([t for t in scalars if t.startswith("grad_norm/")]) == g.layer.nunique()
    assert [s for s, _ in scalars["epoch/learning_rate"]] == m[m.scope == "epoch"].step.unique().tolist()
    assert all(v > 0 for _, v in scalars["epoch/train_images_per_second"])


@pytest.fixture
def epoch_one_checkpoint(monkeypatch) -> dict:
    """The bytes of a run's checkpoint after its first epoch (key "bytes"), kept as it is written:
    writing them back rolls the run back there, as if the process had been lost after it."""
    from cnnstudy.training import checkpoint

    real_save, saved = checkpoint.save, {}

    def keep_epoch_one(path, state):
        real_save(path, state)
        if state["epoch"] == 1 and not state.get("progress"):
            saved["bytes"] = path.read_bytes()

    monkeypatch.setattr(checkpoint, "save", keep_epoch_one)
    return saved


def test_a_resumed_runs_tensorboard_steps_go_on_without_duplicates_or_gaps(tmp_path, data_file, epoch_one_checkpoint):
    """The process that wrote epochs 2 and 3 is lost after epoch 1's checkpoint (its events
    stay on disk): the resumed run purges them and its curves match an uninterrupted run."""
    saved = epoch_one_checkpoint
    board, out, ckpt = tmp_path / "tb", tmp_path / "a", tmp_path / "a" / "ckpt" / "last.pt"
    train_run(cfg(epochs=3), data_file, out, ckpt, log=print, board_dir=board)
    first = board_scalars(board)
    ckpt.write_bytes(saved["bytes"])  # back to the end of epoch 1, with epochs 2-3 already on the board
    logs = []
    train_run(cfg(epochs=3), data_file, out, ckpt, log=logs.append, board_dir=board)
    assert any("resumed from" in m and "after epoch 1" in m for m in logs)
    again = board_scalars(board)
    for tag, points in again.items():
        steps = [s for s, _ in points]
        assert steps == sorted(set(steps)), (tag, steps)  # strictly increasing: nothing duplicated
        assert steps == [s for s, _ in first[tag]], tag  # nothing missing
    m = pd.read_csv(out / "metrics.csv")
    assert [s for s, _ in again["epoch/val_accuracy"]] == m[(m.scope == "epoch") & (m.split == "val")].step.tolist()


# every architecture of the factory at a small input it takes: (arch, options, input side)
EVERY_ARCHITECTURE = [
    ("net1", {}, 32), ("net2", {}, 32), ("net3", {}, 32), ("lenet", {"bn": True, "dropout": True}, 32),
    ("vgg_cifar", {}, 32), ("alexnet_like", {}, 96), ("nin", {}, 32), ("mnist_cnn", {}, 28),
    ("mnist_gp", {"global_pool": "mean"}, 32), ("resnet18_tl", {"train_bn": True}, 32),
]  # fmt: skip


@pytest.mark.parametrize("arch,options,side", EVERY_ARCHITECTURE, ids=[a for a, _, _ in EVERY_ARCHITECTURE])
def test_every_architecture_trains_resumes_exactly_and_is_interpreted(tmp_path, arch, options, side,
                                                                     epoch_one_checkpoint):  # fmt: skip
    from cnnstudy.report import interpret

    gen = np.random.default_rng(0)
    channels = 1 if arch.startswith("mnist") else 3
    x = gen.integers(0, 256, (48, channels, side, side), dtype=np.uint8)
    y = (x.reshape(48, -1).mean(1) > 127.5).astype(np.int64)  # learnable: bright or dark
    datasets.save(tmp_path / "d.pt", {"train": (x[:40], y[:40]), "val": (x[40:], y[40:])}, ["dark", "bright"])
    kw = dict(arch=arch, run=arch, options=options, epochs=2, batch_size=8, eval_every_steps=2, betas=None,
              optimizer="sgd", lr=0.01)  # fmt: skip
    saved = epoch_one_checkpoint
    out, ckpt = tmp_path / "run", tmp_path / "run" / "ckpt" / "last.pt"
    first = train_run(cfg(**kw), tmp_path / "d.pt", out, ckpt, log=lambda m: None)
    reference = pd.read_csv(out / "metrics.csv")
    ckpt.write_bytes(saved["bytes"])
    logs = []
    again = train_run(cfg(**kw), tmp_path / "d.pt", out, ckpt, log=logs.append)
    assert any("resumed from" in m and "after epoch 1" in m for m in logs), logs
    pd.testing.assert_frame_equal(reference, pd.read_csv(out / "metrics.csv"))  # exactly where it left off
    assert again["best_val_accuracy"] == first["best_val_accuracy"] and again["status"] == "completed"
    a = interpret.analyse(cfg(**kw), datasets.load(tmp_path / "d.pt"), out / "best_model.pt")
    assert a["examples"] and all(torch.isfinite(e["cam"]).all() for e in a["examples"].values())


def test_the_architecture_list_above_is_the_factorys():
    from cnnstudy.nets.architectures import ARCHITECTURES

    assert {a for a, _, _ in EVERY_ARCHITECTURE} == set(ARCHITECTURES)


def test_a_completed_run_drops_its_resume_checkpoint_unless_kept_and_a_diverged_one_keeps_it(
    tmp_path, data_file, monkeypatch
):
    """The demo's finished runs kept 847 MB of checkpoints nobody resumes (the full study: over 10 GB).
    A run that drops it does not write it after its last epoch either (VGG's is 362 MB)."""
    from cnnstudy.training import checkpoint

    saved, save = [], checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda path, state: (saved.append(state["epoch"]), save(path, state)))
    logs = []
    train_run(cfg(epochs=3), data_file, tmp_path / "dropped", tmp_path / "dropped" / "ckpt" / "last.pt",
              log=logs.append, keep_checkpoint=False)  # fmt: skip
    assert not (tmp_path / "dropped" / "ckpt").exists() and (tmp_path / "dropped" / "best_model.pt").exists()
    assert any("resume checkpoint" in m and "removed" in m for m in logs), logs
    assert saved == [1, 2]
    saved.clear()
    train_run(cfg(epochs=3), data_file, tmp_path / "kept", tmp_path / "kept" / "ckpt" / "last.pt", keep_checkpoint=True,
              log=lambda m: None)  # fmt: skip
    assert (tmp_path / "kept" / "ckpt" / "last.pt").exists() and saved == [1, 2, 3]
    logs.clear()
    hot = cfg(lr=1e6, optimizer="sgd", epochs=5)
    s = train_run(hot, data_file, tmp_path / "hot", tmp_path / "hot" / "ckpt" / "last.pt", keep_checkpoint=False,
                  log=logs.append)  # fmt: skip
    assert s["status"] == "diverged" and not any("removed" in m for m in logs), logs


def test_a_run_started_afresh_drops_an_earlier_attempts_progress_and_writes_its_own(tmp_path, data_file):
    from cnnstudy.records import Progress, read_record, write_record

    progress = tmp_path / "seed0.progress.json"
    write_record(Progress(epoch=9, epochs=9, step=999, val_accuracy=0.99, epoch_seconds=1.0, eta_seconds=0.0),
                 progress)  # fmt: skip
    seen = []
    log = lambda m: seen.append(progress.exists())  # noqa: E731 - whether the stale record is still there
    train_run(cfg(epochs=1), data_file, tmp_path / "out", tmp_path / "ckpt" / "last.pt", log=log,
              progress_file=str(progress))  # fmt: skip
    assert False in seen  # removed before the first epoch ended
    fresh = read_record(Progress, progress)
    assert (fresh.epoch, fresh.epochs) == (1, 1) and fresh.step < 999
