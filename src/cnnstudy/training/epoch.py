"""One epoch, shaped like torchvision's ``train_one_epoch``: batches are slices of the
device-resident split, each step leaves its loss and predictions in device buffers, and
``record_epoch`` is the epoch's one host sync, turning them into rows of the history."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from cnnstudy.training.checkpoint import to_device
from cnnstudy.training.inputs import Evaluation, batch_plan, evaluate, take_batch
from cnnstudy.training.trainer import RunData, Trainer


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


def _mark(t: Trainer, data: RunData, window: torch.Tensor, images: int) -> StepMark:
    norms = torch.stack([p.grad.norm() if p.grad is not None else p.new_zeros(()) for _, p in t.tracked])
    if data.val_marks is None:  # eval_subset 0: training windows only
        return StepMark(t.step, window, images, None, norms)
    val = evaluate(t.model, t.norm, data.val_marks, len(data.classes), t.bf16)
    _set_train_mode(t.model)
    return StepMark(t.step, window, images, val, norms)


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
