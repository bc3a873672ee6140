"""A run's resume state: what it checkpoints besides the trainer (history, best epoch, where
to go on), and the key a checkpoint must match to be resumed (settings, training code,
data, weights, device and precision)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cnnstudy import code_digest, module_files
from cnnstudy.hashing import file_digest
from cnnstudy.runconfig import RunConfig
from cnnstudy.training import checkpoint
from cnnstudy.training.epoch import EpochProgress, History
from cnnstudy.training.trainer import RunData, Trainer


@dataclass
class Best:
    """The best epoch on validation: its number, accuracy, confusion matrices and weights."""

    epoch: int = 0
    val_accuracy: float = -1.0
    confusion: dict | None = None
    state: dict | None = None


@dataclass
class RunState:
    """The run's checkpointed state besides the trainer: history, best epoch, where to go on."""

    path: Path
    key: dict
    best: Best = field(default_factory=Best)
    history: History = field(default_factory=History)
    next_epoch: int = 1
    progress: EpochProgress | None = None  # an epoch stopped midway
    epoch_seconds: list = field(default_factory=list)  # wall time of each epoch this process ran
    progress_file: Path | None = None  # where each epoch's Progress goes (status reads it), not checkpointed
    keep_final: bool = True  # checkpoint the last epoch too (False: a completed run removes it anyway)

    def resume(self, t: Trainer, device, log) -> None:
        state = checkpoint.load(self.path, self.key, log)
        if state is None:
            if self.progress_file is not None:  # starting afresh: an earlier attempt's epoch is not this one's
                self.progress_file.unlink(missing_ok=True)
            return
        _restore(t, state)
        self.best, self.history = Best(**state["best"]), History(**state["history"])
        self.next_epoch = state["epoch"] + 1
        if state.get("progress"):
            self.progress = EpochProgress.from_state(state["progress"], device)
            log(f"resumed from {self.path} in epoch {self.next_epoch} at batch {self.progress.next_batch}")
        else:
            log(f"resumed from {self.path} after epoch {state['epoch']}")

    def save(self, epoch: int, t: Trainer, progress: EpochProgress | None = None) -> None:
        state = _checkpoint_state(self.key, epoch, t, self.best, self.history)
        checkpoint.save(self.path, {**state, "progress": progress.to_state() if progress else None})


def resume_key(cfg: RunConfig, data: RunData, t: Trainer) -> dict:
    """What a checkpoint must share with this run to be resumed: settings, code, data and
    weights, and where and how it computes (a CPU checkpoint resumed on a GPU would go on in
    bf16 after fp32 epochs; a GPU generator's state does not fit a CPU one)."""
    return {
        "settings": cfg.digest(),
        "training code": training_code(),
        "data": data.sha256,
        "pretrained weights": file_digest(cfg.weights) if cfg.weights else None,
        "device": data.train_x.device.type,
        "precision": t.precision,
    }


def training_code() -> str:
    """Digest of the code a run depends on: a checkpoint from other code is not resumed."""
    return code_digest(module_files("cnnstudy.training.train"))


def _restore(t: Trainer, state: dict) -> None:
    """A checkpoint read onto the CPU (``checkpoint.load``) restored into a trainer on any
    device: weights and optimizer state land on the parameters' device; generator states are
    the CPU byte tensors every generator, CUDA's included, takes."""
    t.model.load_state_dict(state["model"])
    t.optimizer.load_state_dict(state["optimizer"])
    if t.scheduler is not None:
        t.scheduler.load_state_dict(state["scheduler"])
    rng = state["rng"]
    t.order_gen.set_state(rng["order"])
    torch.set_rng_state(rng["torch"])
    if t.aug_gen is not None:
        t.aug_gen.set_state(rng["augment"])
    if "cuda" in rng and t.norm.mean.is_cuda:
        torch.cuda.set_rng_state(rng["cuda"], t.norm.mean.device)
    t.step = state["step"]


def _checkpoint_state(key: dict, epoch: int, t: Trainer, best: Best, history: History) -> dict:
    return {
        "resume_key": key,
        "epoch": epoch,
        "step": t.step,
        "model": t.model.state_dict(),
        "optimizer": t.optimizer.state_dict(),
        "scheduler": t.scheduler.state_dict() if t.scheduler is not None else None,
        "rng": _rng_state(t),
        "best": dataclasses.asdict(best),
        "history": dataclasses.asdict(history),
    }


def _rng_state(t: Trainer) -> dict:
    state = {"order": t.order_gen.get_state(), "torch": torch.get_rng_state()}
    if t.aug_gen is not None:
        state["augment"] = t.aug_gen.get_state()
    if torch.cuda.is_available() and t.norm.mean.is_cuda:
        state["cuda"] = torch.cuda.get_rng_state(t.norm.mean.device)
    return state
