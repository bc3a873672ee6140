"""One plain training function, shaped like torchvision's reference trainer: ``train_run``
sets up, then calls ``train_one_epoch`` and ``evaluate`` per epoch and checkpoints.

Data stay on the device; metrics accumulate in device tensors and reach the host once per
epoch, where the epoch is logged, checked for divergence and checkpointed. A checkpoint is
resumed only by the same settings, training code, data and pretrained weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import platform
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import __version__, augment, checkpoint, code_digest, datasets, module_files
from .board import open_board
from .devices import describe, pick_device, resolve_precision, set_tf32
from .hashing import file_digest
from .inputs import DeviceSplit, Evaluation, batch_plan, device_split, evaluate, input_pipeline, take_batch
from .models import build_model, count_parameters, place_model
from .records import Progress, RunSummary, write_record
from .runconfig import RunConfig

METRIC_COLUMNS = ["scope", "epoch", "step", "split", "images", "loss", "accuracy"]
GRAD_COLUMNS = ["epoch", "step", "depth", "layer", "grad_norm"]


def training_code() -> str:
    """Digest of the code a run depends on: a checkpoint from other code is not resumed."""
    return code_digest(module_files("cnnstudy.train"))


def set_determinism(deterministic: bool) -> None:
    """Forbid nondeterministic kernels (an op without a deterministic implementation raises,
    naming itself, into the run's log: a warning would go to stderr, outside it), or let cuDNN
    pick the fastest algorithm per shape. Process-wide, as torch keeps it."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed every generator and set the determinism (:func:`set_determinism`)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    set_determinism(deterministic)


def make_optimizer(cfg: RunConfig, params: list) -> torch.optim.Optimizer:
    # fused kernels: one launch for all parameters instead of several per tensor
    fused = {"fused": True} if params and params[0].device.type in ("cpu", "cuda") else {}
    if cfg.optimizer == "adam":
        betas = {"betas": tuple(cfg.betas)} if cfg.betas else {}
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **betas, **fused)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum or 0.0, weight_decay=cfg.weight_decay, **fused)


def make_scheduler(cfg: RunConfig, opt):
    if not cfg.scheduler:
        return None
    return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.scheduler["step_size"], gamma=cfg.scheduler["gamma"])


@dataclass
class RunData:
    """A run's data on the device: the training split, validation (whole, and the fixed subset
    scored at per-step marks), the test split (scored every epoch and recorded, for the
    reports' own metrics, never used to choose anything; its host copy scores the best-val
    weights at the end), and the digests of every split as computed while loading."""

    classes: list
    train_x: torch.Tensor
    train_y: torch.Tensor
    train_sizes: torch.Tensor | None  # variable resolution: batches hold one size
    val: DeviceSplit
    val_marks: DeviceSplit | None  # None: no validation at the marks
    test: dict | None
    test_epochs: DeviceSplit | None
    sha256: dict
    train_split: dict  # host copy, for the normalizer statistics


def load_run_data(cfg: RunConfig, data_path, device) -> RunData:
    data = datasets.load(data_path)
    splits = data["splits"]
    if "val" not in splits:
        raise datasets.DatasetError(f"{data_path} has no 'val' split: the best epoch must be chosen on validation")
    n_val = len(splits["val"]["y"])
    subset = torch.randperm(n_val, generator=torch.Generator().manual_seed(cfg.seed))[: cfg.eval_subset].sort().values
    val = device_split(splits["val"], device, cfg.eval_batch_size)
    marks = val if cfg.eval_subset >= n_val else device_split(splits["val"], device, cfg.eval_batch_size, subset)
    marks = marks if cfg.eval_subset else None
    train = splits["train"]
    return RunData(
        classes=data["classes"],
        train_x=train["x"].to(device),
        train_y=train["y"].to(device),
        train_sizes=train.get("size"),
        val=val,
        val_marks=marks,
        test=splits.get("test"),
        test_epochs=device_split(splits["test"], device, cfg.eval_batch_size) if "test" in splits else None,
        sha256=data["sha256"],
        train_split=train,
    )


class StopRequest:
    """Set by SIGTERM (SLURM's preemption or time limit) or SIGINT (Ctrl-C): the loop
    checkpoints where it is, mid-epoch, and the run exits; its rerun resumes exactly there."""

    def __init__(self):
        self.signal = None

    def __call__(self, signum, frame):
        self.signal = signum

    def __bool__(self) -> bool:
        return self.signal is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_sigterm():
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stop
        return
    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@dataclass
class Trainer:
    """Everything the loop changes, and what it needs to change it."""

    cfg: RunConfig
    model: torch.nn.Module
    norm: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    order_gen: torch.Generator  # batch order (host)
    aug_gen: torch.Generator | None  # augmentation draws (device)
    tracked: list  # (name, weight) whose gradient norms are recorded
    precision: str = "fp32"  # resolved: bf16 autocasts the forward passes
    tf32: bool = False  # whether TF32 computes anything here (see devices.set_tf32)
    step: int = 0
    stop: StopRequest = field(default_factory=lambda: StopRequest())

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"


def build_trainer(cfg: RunConfig, data: RunData, device) -> Trainer:
    augment.validate(cfg.augment)  # a switch the batch augmentation does not know is an error, not a no-op
    norm, in_shape = input_pipeline(data.train_split, cfg.resize)
    torch.manual_seed(cfg.seed)  # model init depends on the seed only, not on earlier draws
    model = place_model(
        build_model(cfg.arch, in_shape, len(data.classes), conv_impl=cfg.conv_impl, weights=cfg.weights, **cfg.options),
        device,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(cfg, params)
    precision = resolve_precision(cfg.precision, device)
    return Trainer(
        cfg=cfg,
        model=model,
        norm=norm.to(device),
        optimizer=opt,
        scheduler=make_scheduler(cfg, opt),
        order_gen=torch.Generator(device="cpu").manual_seed(cfg.seed),
        aug_gen=torch.Generator(device=device).manual_seed(cfg.seed + 1) if cfg.augment else None,
        tracked=[
            (n, p) for n, p in model.named_parameters() if p.requires_grad and n.endswith("weight") and p.dim() > 1
        ],
        precision=precision,
        tf32=set_tf32(precision, device),
    )


def _set_train_mode(model):
    model.train()
    if getattr(model, "bn_frozen", False):  # transfer learning with frozen BN statistics
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


@dataclass
class StepMark:
    """A per-N-steps record, kept on the device until the epoch's one host sync."""

    step: int
    train_sums: torch.Tensor  # loss sum and correct count since the previous mark
    train_images: int
    val: Evaluation | None  # on the fixed validation subset (None: eval_subset 0)
    grad_norms: torch.Tensor


@dataclass
class EpochStats:
    sums: torch.Tensor  # loss sum and correct count over the epoch
    confusion: torch.Tensor
    images: int = 0
    marks: list = field(default_factory=list)


@dataclass
class EpochRecord:
    """What each step leaves on the device: one loss and its predictions, written into
    buffers (two small ops a step); sums, windows and the confusion matrix come from them."""

    labels: torch.Tensor  # the epoch's labels in batch order
    preds: torch.Tensor
    losses: torch.Tensor  # mean loss of each step
    sizes: torch.Tensor  # images of each step

    def sums(self, steps: slice, images: slice) -> torch.Tensor:
        """Loss sum and correct count over ``steps`` (whose images are ``images``)."""
        loss = (self.losses[steps] * self.sizes[steps]).sum()
        return torch.stack([loss, (self.preds[images] == self.labels[images]).sum().float()])


def _mark(t: Trainer, data: RunData, window: torch.Tensor, images: int) -> StepMark:
    norms = torch.stack([p.grad.norm() if p.grad is not None else p.new_zeros(()) for _, p in t.tracked])
    if data.val_marks is None:  # eval_subset 0: training windows only
        return StepMark(t.step, window, images, None, norms)
    val = evaluate(t.model, t.norm, data.val_marks, len(data.classes), t.bf16)
    _set_train_mode(t.model)
    return StepMark(t.step, window, images, val, norms)


@dataclass
class EpochProgress:
    """Where an epoch stands: enough to finish it exactly after a stop mid-epoch (SIGTERM)."""

    order_state: torch.Tensor  # the batch-order generator before this epoch's plan
    next_batch: int
    record: EpochRecord
    marks: list
    window_step: int = 0
    window_image: int = 0

    def to_state(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: dict, device) -> EpochProgress:
        """The progress read from a checkpoint (on the CPU), its buffers moved to ``device``;
        the batch-order state stays a CPU byte tensor (the order generator lives on the host)."""
        state = {**to_device(state, device), "order_state": state["order_state"]}
        marks = [StepMark(**{**m, "val": Evaluation(**m["val"]) if m["val"] else None}) for m in state["marks"]]
        return cls(**{**state, "record": EpochRecord(**state["record"]), "marks": marks})


def _start_epoch(t: Trainer, data: RunData, progress: EpochProgress | None):
    """The epoch's batch plan and progress: a fresh one, or the interrupted one replayed."""
    device = data.train_x.device
    order_state = t.order_gen.get_state() if progress is None else progress.order_state
    t.order_gen.set_state(order_state)
    order, bounds = batch_plan(len(data.train_y), t.cfg.batch_size, t.order_gen, data.train_sizes)
    order = order.to(device)  # one transfer per epoch; batches are slices of it
    if progress is None:
        labels = data.train_y[order]
        sizes = torch.tensor([end - start for start, end, _ in bounds], dtype=torch.float32).to(device)
        record = EpochRecord(labels, torch.empty_like(labels), torch.empty(len(bounds), device=device), sizes)
        progress = EpochProgress(order_state, 0, record, [])
    return order, bounds, progress


def train_step(model, optimizer, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a ready batch (the loop's, the projection's and the benchmark
    floor's): forward under bf16 autocast if asked, cross-entropy, backward, step."""
    with torch.autocast(y.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = model(x)
        loss = F.cross_entropy(out, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return out, loss


def train_one_epoch(t: Trainer, data: RunData, progress: EpochProgress | None = None) -> EpochStats | EpochProgress:
    """One pass over the training split (or the rest of an interrupted one); on a stop request
    it returns its progress after the current step instead of its statistics."""
    k, every = len(data.classes), t.cfg.eval_every_steps
    _set_train_mode(t.model)
    order, bounds, p = _start_epoch(t, data, progress)
    rec = p.record
    for i in range(p.next_batch, len(bounds)):
        start, end, size = bounds[i]
        x = t.norm(take_batch(data.train_x, order, start, end, size), t.cfg.augment, t.aug_gen)  # fp32: no autocast
        out, loss = train_step(t.model, t.optimizer, x, rec.labels[start:end], t.bf16)
        t.step += 1
        rec.losses[i] = loss.detach()
        rec.preds[start:end] = out.detach().argmax(1)
        if every and t.step % every == 0:
            window = rec.sums(slice(p.window_step, i + 1), slice(p.window_image, end))
            p.marks.append(_mark(t, data, window, end - p.window_image))
            p.window_step, p.window_image = i + 1, end
        if t.stop and i + 1 < len(bounds):
            p.next_batch = i + 1
            return p
    confusion = torch.zeros(k * k, dtype=torch.long, device=rec.labels.device).index_add_(
        0, rec.labels * k + rec.preds, torch.ones_like(rec.labels)
    )  # bincount would sync
    return EpochStats(rec.sums(slice(None), slice(None)), confusion, len(rec.labels), p.marks)


@dataclass
class History:
    metrics: list = field(default_factory=list)  # rows of METRIC_COLUMNS
    grad_norms: list = field(default_factory=list)  # rows of GRAD_COLUMNS


@dataclass
class EpochResult:
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float

    def finite(self) -> bool:
        return math.isfinite(self.train_loss) and math.isfinite(self.val_loss)


def _row(scope, epoch, step, split, *, images, loss_sum, correct) -> dict:
    return dict(
        scope=scope,
        epoch=epoch,
        step=step,
        split=split,
        images=images,
        loss=loss_sum / images,
        accuracy=correct / images,
    )


def record_epoch(history: History, epoch: int, t: Trainer, stats: EpochStats, evals: dict) -> EpochResult:
    """The epoch's one host sync: its marks and totals become rows of the history; ``evals``
    holds the epoch's val evaluation and, where there is a test split, its test one."""
    val = evals["val"]
    for mark in stats.marks:
        loss_sum, correct = mark.train_sums.tolist()
        history.metrics.append(
            _row("step", epoch, mark.step, "train", images=mark.train_images, loss_sum=loss_sum, correct=correct)
        )
        if mark.val is not None:
            v = mark.val
            history.metrics.append(
                _row(
                    "step", epoch, mark.step, "val", images=v.images, loss_sum=float(v.loss_sum), correct=int(v.correct)
                )
            )
        for depth, ((name, _), g) in enumerate(zip(t.tracked, mark.grad_norms.tolist())):
            history.grad_norms.append(dict(epoch=epoch, step=mark.step, depth=depth, layer=name, grad_norm=g))
    loss_sum, correct = stats.sums.tolist()
    train = _row("epoch", epoch, t.step, "train", images=stats.images, loss_sum=loss_sum, correct=correct)
    val_row = _row(
        "epoch", epoch, t.step, "val", images=val.images, loss_sum=float(val.loss_sum), correct=int(val.correct)
    )
    history.metrics += [train, val_row]
    if evals.get("test") is not None:
        test = evals["test"]
        history.metrics.append(
            _row(
                "epoch",
                epoch,
                t.step,
                "test",
                images=test.images,
                loss_sum=float(test.loss_sum),
                correct=int(test.correct),
            )
        )
    return EpochResult(train["loss"], train["accuracy"], val_row["loss"], val_row["accuracy"])


@dataclass
class Best:
    """The best epoch on validation: its number, accuracy, confusion matrices and weights."""

    epoch: int = 0
    val_accuracy: float = -1.0
    confusion: dict | None = None
    state: dict | None = None


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


def _rng_state(t: Trainer) -> dict:
    state = {"order": t.order_gen.get_state(), "torch": torch.get_rng_state()}
    if t.aug_gen is not None:
        state["augment"] = t.aug_gen.get_state()
    if torch.cuda.is_available() and t.norm.mean.is_cuda:
        state["cuda"] = torch.cuda.get_rng_state(t.norm.mean.device)
    return state


def to_device(value, device):
    """The tensors of a checkpointed structure (dicts, lists, tensors) on the run's device."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return [to_device(v, device) for v in value] if isinstance(value, list) else value


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


def _progress(cfg: RunConfig, epoch: int, step: int, result: EpochResult, seconds: list) -> str:
    eta = (cfg.epochs - epoch) * sum(seconds) / len(seconds)
    return (
        f"{cfg.study}/{cfg.run}/seed{cfg.seed} epoch {epoch}/{cfg.epochs} step {step} "
        f"train loss {result.train_loss:.4f} acc {result.train_accuracy:.4f} | "
        f"val loss {result.val_loss:.4f} acc {result.val_accuracy:.4f} | {seconds[-1]:.1f} s, ETA {eta:.0f} s"
    )


class Stopped(SystemExit):
    """The run checkpointed on SIGTERM or SIGINT and exits (code 143 or 130, as if killed by it)."""


def train_run(cfg: RunConfig, data_path, out_dir, checkpoint_path, log=print, *, board_dir=None,
              progress_file=None, keep_checkpoint=True) -> dict:  # fmt: skip
    """Train one (study, run, seed); write its outputs to ``out_dir``; return its summary.

    Outputs: ``metrics.csv`` (tidy: scope, epoch, step, split, images, loss, accuracy),
    ``grad_norms.csv``, ``confusion.csv`` (best epoch: train, val, and test where there is
    one), ``best_model.pt`` and ``summary.json`` (a :class:`cnnstudy.records.RunSummary`);
    TensorBoard events in ``board_dir`` (None: none); after every epoch a
    :class:`cnnstudy.records.Progress` replaces ``progress_file`` (None: none).
    ``checkpoint_path`` holds the last finished epoch, or the position within an epoch where
    SIGTERM or SIGINT stopped the run; a rerun resumes from it only with the same settings,
    code, data, weights, device and precision. A completed run removes it unless
    ``keep_checkpoint`` (its outputs hold everything else); a diverged one keeps it.
    """
    t0 = time.time()
    seed_everything(cfg.seed, cfg.deterministic)
    device = pick_device(cfg.device)
    data = load_run_data(cfg, data_path, device)
    t = build_trainer(cfg, data, device)
    where = describe(device)
    log(f"device {device} ({where['device_name']}, compute capability {where['capability']}), precision "
        f"{t.precision}, TF32 {'on' if t.tf32 else 'off'}, deterministic {cfg.deterministic}")  # fmt: skip
    run = RunState(Path(checkpoint_path), resume_key(cfg, data, t), progress_file=progress_file)
    run.resume(t, device, log)
    with stop_on_sigterm() as t.stop, open_board(board_dir, run.history, t.step) as board:
        status = _fit(t, data, run, log, board)
        summary = write_outputs(RunOutcome(cfg, data, t, run, status, time.time() - t0), Path(out_dir), log)
        board.finish(cfg, summary)
    if status == "completed" and not keep_checkpoint:
        freed = checkpoint.remove(run.path)
        log(f"completed: resume checkpoint {run.path} removed ({freed / 1e6:,.1f} MB; config key keep_checkpoints)")
    return summary


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

    def resume(self, t: Trainer, device, log) -> None:
        state = checkpoint.load(self.path, self.key, log)
        if state is None:
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


def _fit(t: Trainer, data: RunData, run: RunState, log, board) -> str:
    """The epochs from where the run stands, each one's rows also on its board; returns its status."""
    cfg, seconds = t.cfg, run.epoch_seconds
    device = data.train_x.device
    log(f"{cfg.study}/{cfg.run}/seed{cfg.seed}: epochs {run.next_epoch}-{cfg.epochs} on {device}")
    for epoch in range(run.next_epoch, cfg.epochs + 1):
        tick = time.time()
        stats = train_one_epoch(t, data, run.progress)
        run.progress = None
        if isinstance(stats, EpochProgress):
            run.save(epoch - 1, t, stats)
            log(f"{t.stop.name} in epoch {epoch}: checkpointed at batch {stats.next_batch} in {run.path}; exiting")
            raise Stopped(128 + t.stop.signal)
        lr = t.optimizer.param_groups[0]["lr"]  # the epoch's, before the scheduler moves it
        if t.scheduler is not None:
            t.scheduler.step()
        val = evaluate(t.model, t.norm, data.val, len(data.classes), t.bf16)
        evals = {"val": val, "test": epoch_test(t, data)}
        result = record_epoch(run.history, epoch, t, stats, evals)
        seconds.append(time.time() - tick)
        log(_progress(cfg, epoch, t.step, result, seconds))
        if run.progress_file is not None:
            eta = (cfg.epochs - epoch) * sum(seconds) / len(seconds)
            write_record(Progress(epoch, cfg.epochs, t.step, result.val_accuracy, seconds[-1], eta), run.progress_file)
        board.update(run.history, t.step, lr, len(data.train_y) / seconds[-1])
        if not result.finite():
            log(f"diverged at epoch {epoch}: non-finite loss; recording the history so far and stopping")
            return "diverged"
        if result.val_accuracy > run.best.val_accuracy:
            confusion = {"train": stats.confusion.view(len(data.classes), -1).cpu(), "val": val.confusion.cpu()}
            weights = {name: v.detach().cpu().clone() for name, v in t.model.state_dict().items()}
            run.best = Best(epoch, result.val_accuracy, confusion, weights)
        run.save(epoch, t)
        if t.stop and epoch < cfg.epochs:
            log(f"{t.stop.name} after epoch {epoch}: checkpointed in {run.path}; exiting")
            raise Stopped(128 + t.stop.signal)
    return "completed"


@dataclass
class RunOutcome:
    cfg: RunConfig
    data: RunData
    trainer: Trainer
    run: RunState
    status: str
    seconds: float


def epoch_test(t: Trainer, data: RunData) -> Evaluation | None:
    """The test split scored by this epoch's weights: recorded (the reports' last-epoch and
    best-epoch test accuracy), never used to choose an epoch or anything else."""
    if data.test_epochs is None:
        return None
    return evaluate(t.model, t.norm, data.test_epochs, len(data.classes), t.bf16)


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


def _throughput(o: RunOutcome) -> float | None:
    seconds = sum(o.run.epoch_seconds)
    return round(len(o.run.epoch_seconds) * len(o.data.train_y) / seconds, 1) if seconds else None


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
