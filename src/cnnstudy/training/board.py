"""TensorBoard event files of a run, written from the rows of its history: the same rows that
become ``metrics.csv`` and ``grad_norms.csv``, at the epoch's one host sync.

One folder per run (``results/tensorboard/<study>/<run>/seed<k>/``), so ``tensorboard --logdir
results/tensorboard`` compares any runs. A resumed run purges what lies after its checkpoint's
step, so its curves go on without duplicated or missing steps.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from cnnstudy.runconfig import RunConfig


def tag(row: dict) -> tuple[str, str]:
    """The loss and accuracy tags of a metrics row: scope first, so TensorBoard groups by it."""
    return f"{row['scope']}/{row['split']}_loss", f"{row['scope']}/{row['split']}_accuracy"


class Board:
    """A run's TensorBoard writer. A fresh run starts an empty folder; a resumed one purges the
    events after its checkpoint's ``step`` (a killed process may have written some) and skips
    the rows its history already had."""

    def __init__(self, folder: str | Path, history, step: int):
        from torch.utils.tensorboard import SummaryWriter  # only runs that keep a board import it

        if not step:
            shutil.rmtree(folder, ignore_errors=True)  # an earlier, abandoned start of this run
        # events at the checkpoint's step are its epoch's own; later ones came from a lost process
        self.writer = SummaryWriter(str(folder), purge_step=step + 1 if step else None)
        self.written = (len(history.metrics), len(history.grad_norms))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.writer.close()

    def update(self, history, step: int, lr: float, images_per_second: float) -> None:
        """The rows the epoch added to ``history`` (marks, then its totals) and its rate."""
        metrics, grads = self.written
        self.rows(history.metrics[metrics:], history.grad_norms[grads:])
        self.written = (len(history.metrics), len(history.grad_norms))
        self.writer.add_scalar("epoch/learning_rate", lr, step)
        self.writer.add_scalar("epoch/train_images_per_second", images_per_second, step)

    def rows(self, metrics: list, grad_norms: list) -> None:
        for r in metrics:
            loss, accuracy = tag(r)
            self.writer.add_scalar(loss, r["loss"], r["step"])
            self.writer.add_scalar(accuracy, r["accuracy"], r["step"])
        for g in grad_norms:
            self.writer.add_scalar(f"grad_norm/{g['depth']:02d} {g['layer']}", g["grad_norm"], g["step"])

    def finish(self, cfg: RunConfig, summary: dict) -> None:
        """The run's settings as hyper-parameters, beside its results, in ``hparams/`` (replaced
        by a rerun that finishes again, so there is one)."""
        scalar = (int, float, str, bool)
        settings = {k: v if isinstance(v, scalar) else str(v) for k, v in dataclasses.asdict(cfg).items()}
        results = {f"result/{k}": summary[k] for k in ("best_val_accuracy", "final_val_accuracy", "test_accuracy")
                   if isinstance(summary.get(k), int | float)}  # fmt: skip
        shutil.rmtree(Path(self.writer.log_dir) / "hparams", ignore_errors=True)
        self.writer.add_hparams(settings, results, run_name="hparams")


class NoBoard:
    """TensorBoard turned off (config key ``tensorboard``): the same calls, doing nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def update(self, *args) -> None:
        pass

    def finish(self, *args) -> None:
        pass


def open_board(folder: str | Path | None, history, step: int) -> Board | NoBoard:
    return Board(folder, history, step) if folder else NoBoard()
