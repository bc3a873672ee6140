"""What a finished (or diverged) run leaves: ``metrics.csv``, ``grad_norms.csv``,
``confusion.csv``, ``best_model.pt`` and ``summary.json`` (a :class:`cnnstudy.records.RunSummary`)."""

from __future__ import annotations

import dataclasses
import math
import platform
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from cnnstudy import __version__
from cnnstudy.nets.models import count_parameters
from cnnstudy.records import RunSummary, write_record
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.devices import describe
from cnnstudy.training.inputs import Evaluation, device_split, evaluate
from cnnstudy.training.resume import RunState
from cnnstudy.training.trainer import RunData, Trainer

METRIC_COLUMNS = ["scope", "epoch", "step", "split", "images", "loss", "accuracy"]


GRAD_COLUMNS = ["epoch", "step", "depth", "layer", "grad_norm"]


@dataclass
class RunOutcome:
    cfg: RunConfig
    data: RunData
    trainer: Trainer
    run: RunState
    status: str
    seconds: float


def write_outputs(o: RunOutcome, out_dir: Path, log) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    ident = {"study": o.cfg.study, "model": o.cfg.run, "seed": o.cfg.seed}
    for name, rows, columns in (
        ("metrics", o.run.history.metrics, METRIC_COLUMNS),
        ("grad_norms", o.run.history.grad_norms, GRAD_COLUMNS),
    ):
        pd.DataFrame([{**ident, **r} for r in rows], columns=[*ident, *columns]).to_csv(
            out_dir / f"{name}.csv", index=False
        )
    test = _test_evaluation(o)
    matrices = dict(o.run.best.confusion or {})
    if test is not None:
        matrices["test"] = test.confusion.cpu()
    rows = _confusion_rows(ident, o.data.classes, matrices)
    pd.DataFrame(rows, columns=[*ident, "split", "true", "predicted", "count"]).to_csv(
        out_dir / "confusion.csv", index=False
    )
    weights = o.run.best.state if o.run.best.state is not None else o.trainer.model.state_dict()
    torch.save({k: v.detach().cpu() for k, v in weights.items()}, out_dir / "best_model.pt")  # CPU: loads anywhere
    record = RunSummary(**ident, **_summary(o, test))  # every key of the record, or a TypeError here
    write_record(record, out_dir / "summary.json")
    summary = dataclasses.asdict(record)
    best, test_accuracy = summary["best_val_accuracy"], summary["test_accuracy"]
    log(f"{o.status}: best val accuracy {best} at epoch {o.run.best.epoch}; test accuracy {test_accuracy}")
    return summary


def _test_evaluation(o: RunOutcome) -> Evaluation | None:
    """The test split scored once, by the best-validation weights (never used to choose them)."""
    if o.data.test is None or o.run.best.state is None:
        return None
    o.trainer.model.load_state_dict(o.run.best.state)
    device = o.data.train_x.device
    split = device_split(o.data.test, device, o.cfg.eval_batch_size)
    return evaluate(o.trainer.model, o.trainer.norm, split, len(o.data.classes), o.trainer.bf16)


def _confusion_rows(ident: dict, classes: list, matrices: dict) -> list:
    k = len(classes)
    return [
        {**ident, "split": split, "true": classes[i], "predicted": classes[j], "count": int(m[i, j])}
        for split, m in matrices.items()
        for i in range(k)
        for j in range(k)
    ]


def _summary(o: RunOutcome, test: Evaluation | None) -> dict:
    val_epochs = [r for r in o.run.history.metrics if r["scope"] == "epoch" and r["split"] == "val"]
    test_epochs = [r for r in o.run.history.metrics if r["scope"] == "epoch" and r["split"] == "test"]
    test_epochs = [r for r in test_epochs if math.isfinite(r["loss"])] if o.status == "completed" else []
    device = o.data.train_x.device
    model = o.trainer.model
    return {
        "status": o.status,
        "arch": o.cfg.arch,
        "dataset": o.cfg.dataset,
        "epochs_run": len(val_epochs),
        "best_epoch": o.run.best.epoch,
        "best_val_accuracy": o.run.best.val_accuracy if o.run.best.val_accuracy >= 0 else None,
        "final_val_accuracy": val_epochs[-1]["accuracy"] if val_epochs else None,
        # the reports' own metrics where they read test: the last epoch's, and the best epoch's
        # chosen on test itself (labelled so: it chooses on the split it reports)
        "final_test_accuracy": test_epochs[-1]["accuracy"] if test_epochs else None,
        "best_test_accuracy": max(r["accuracy"] for r in test_epochs) if test_epochs else None,
        "test_split": o.data.test is not None,
        "test_accuracy": int(test.correct) / test.images if test is not None else None,
        "chance_level": 1.0 / len(o.data.classes),
        "parameters": count_parameters(model),
        "trainable_parameters": count_parameters(model, trainable_only=True),
        "seconds": round(o.seconds, 3),
        # training throughput of this process's epochs (evaluation included): images per second
        "images_per_second": _throughput(o),
        **describe(device),
        "precision": o.trainer.precision,
        "tf32": o.trainer.tf32,
        "config_hash": o.cfg.digest(),
        "code_sha256": o.run.key["training code"],
        "data_sha256": o.data.sha256,  # recomputed from the bytes trained on, and equal to the stored ones
        "weights_sha256": o.run.key["pretrained weights"],
        "versions": {"cnnstudy": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "config": dataclasses.asdict(o.cfg),
    }


def _throughput(o: RunOutcome) -> float | None:
    seconds = sum(o.run.epoch_seconds)
    return round(len(o.run.epoch_seconds) * len(o.data.train_y) / seconds, 1) if seconds else None
