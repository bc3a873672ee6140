"""Every per-run path of the results folder, spelled once: the workflow's rules (with
wildcards for the parts), the training script and the status command all build them here."""

from __future__ import annotations

from pathlib import Path

RESULTS = "results"


def run_dir(study: str, run: str, seed, root=RESULTS) -> Path:
    """A run's outputs: metrics.csv, grad_norms.csv, confusion.csv, best_model.pt, summary.json."""
    return Path(root) / "runs" / study / run / f"seed{seed}"


def train_log(study: str, run: str, seed, root=RESULTS) -> Path:
    return Path(root) / "logs" / "train" / study / run / f"seed{seed}.log"


def progress_of(log) -> Path:
    """Beside a training log: the last finished epoch's Progress record (status reads it)."""
    log = Path(log)
    return log.with_name(log.name.removesuffix(".log") + ".progress.json")


def checkpoint(study: str, run: str, seed, root=RESULTS) -> Path:
    return Path(root) / "checkpoints" / study / run / f"seed{seed}" / "last.pt"


def tensorboard(study: str, run: str, seed, root=RESULTS) -> Path:
    return Path(root) / "tensorboard" / study / run / f"seed{seed}"
