"""The input side of training and evaluation: uint8 splits resident on the device, their
normalization (and augmentation), and the order in which batches are taken from them.

Batch plans are built on the host (the order is one tensor moved once per epoch, batches
are slices of it), so the loop never waits for the device to learn a batch's bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnnstudy.training import augment


class Normalizer(torch.nn.Module):
    """uint8 NCHW -> float, augmented (training only), standardized with the training split's
    per-channel statistics, optionally resized (the fixed-size view of variable data), and
    laid out channels-last like the model (see ``models.place_model``)."""

    def __init__(self, x_train_u8: torch.Tensor, resize: int | None = None, chunk: int = 4096):
        super().__init__()
        # per-channel sums in chunks: a float copy of a whole split would not fit beside it on a GPU
        s = torch.zeros(2, x_train_u8.shape[1], dtype=torch.float64, device=x_train_u8.device)
        for i in range(0, len(x_train_u8), chunk):
            x = x_train_u8[i : i + chunk].double().div_(255)
            s += torch.stack([x.sum(dim=(0, 2, 3)), x.square().sum(dim=(0, 2, 3))])
        n = x_train_u8.numel() // x_train_u8.shape[1]
        mean = s[0] / n
        std = ((s[1] - n * mean.square()) / max(n - 1, 1)).clamp_min(0).sqrt()
        self.register_buffer("mean", mean.float().view(1, -1, 1, 1))
        self.register_buffer("std", std.float().clamp_min(1e-3).view(1, -1, 1, 1))
        # (x - mean) / std as one multiply-add, for uint8 input and for input in [0, 1]
        self.register_buffer("shift", -self.mean / self.std)
        self.register_buffer("scale", 1 / self.std)
        self.register_buffer("scale_u8", 1 / (255 * self.std))
        self.resize = resize

    def forward(self, x_u8, aug_cfg=None, gen=None):
        if aug_cfg:
            x = augment.augment_batch(x_u8.float().div_(255), aug_cfg, gen)
            x = torch.addcmul(self.shift, x, self.scale)
        else:
            x = torch.addcmul(self.shift, x_u8.float(), self.scale_u8)
        if self.resize and x.shape[-1] != self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", antialias=True, align_corners=False)
        return x.contiguous(memory_format=torch.channels_last)


def input_pipeline(train_split: dict, resize: int | None) -> tuple[Normalizer, tuple[int, int, int]]:
    """The run's normalizer (training statistics, optional resize) and the (C, H, W) its model sees."""
    sizes = train_split.get("size")
    side = resize or (int(sizes.min()) if sizes is not None else None)
    x = train_split["x"]
    return Normalizer(x, resize), ((x.shape[1], side, side) if side else tuple(x.shape[1:]))


def batch_plan(n: int, batch_size: int, gen: torch.Generator | None, sizes: torch.Tensor | None = None):
    """Order of the samples and the (start, end, image size) of each batch, on the host.

    Variable-resolution data is batched within equal sizes (batches shuffled across sizes);
    ``gen=None`` keeps the order (evaluation).
    """
    if sizes is None:
        order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
        return order, [(i, min(i + batch_size, n), None) for i in range(0, n, batch_size)]
    chunks = []
    for s in sorted(set(sizes.tolist())):
        idx = torch.nonzero(sizes == s).flatten()
        if gen is not None:
            idx = idx[torch.randperm(len(idx), generator=gen)]
        chunks += [(idx[i : i + batch_size], s) for i in range(0, len(idx), batch_size)]
    if gen is not None:
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=gen)]
    bounds, start = [], 0
    for idx, s in chunks:
        bounds.append((start, start + len(idx), s))
        start += len(idx)
    return torch.cat([c for c, _ in chunks]), bounds


def take_batch(x, order_dev, start, end, size):
    """Images ``order[start:end]`` of ``x``, cropped to their true size for variable-resolution data."""
    xb = x[order_dev[start:end]]
    return xb if size is None else xb[..., :size, :size]


@dataclass
class DeviceSplit:
    """An evaluation split on the device with its fixed batching, built once: moving an index
    tensor to the GPU at every evaluation would wait for the queued work each time."""

    x: torch.Tensor
    y: torch.Tensor
    order: torch.Tensor
    bounds: list

    def __len__(self) -> int:
        return len(self.y)


def device_split(split: dict, device, batch_size: int, index: torch.Tensor | None = None) -> DeviceSplit:
    """``split`` (or the samples ``index`` of it) on ``device``, batched for evaluation."""
    x, y, sizes = split["x"], split["y"], split.get("size")
    if index is not None:
        x, y, sizes = x[index], y[index], (sizes[index] if sizes is not None else None)
    order, bounds = batch_plan(len(y), batch_size, None, sizes)
    return DeviceSplit(x.to(device), y.to(device), order.to(device), bounds)


@dataclass
class Evaluation:
    """Loss sum, correct count and confusion matrix of a split: device tensors until read."""

    loss_sum: torch.Tensor
    correct: torch.Tensor
    confusion: torch.Tensor
    images: int


@torch.no_grad()
def evaluate(model, norm, split: DeviceSplit, num_classes: int, bf16: bool = False) -> Evaluation:
    model.eval()
    device = split.x.device
    loss = torch.zeros((), device=split.x.device)
    conf = torch.zeros(num_classes * num_classes, dtype=torch.long, device=split.x.device)
    for start, end, size in split.bounds:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(norm(take_batch(split.x, split.order, start, end, size)))
        yb = split.y[split.order[start:end]]
        loss += F.cross_entropy(out.float(), yb, reduction="sum")
        conf.index_add_(0, yb * num_classes + out.argmax(1), torch.ones_like(yb))  # bincount would sync
    conf = conf.view(num_classes, num_classes)
    return Evaluation(loss, conf.diagonal().sum(), conf, len(split))
