"""What one run trains with: its data on the device, and the model, optimizer, scheduler and
generators, all built from its settings and seed."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from cnnstudy.data import datasets
from cnnstudy.nets.models import build_model, place_model
from cnnstudy.runconfig import RunConfig
from cnnstudy.training import augment
from cnnstudy.training.devices import resolve_precision, set_tf32
from cnnstudy.training.inputs import DeviceSplit, device_split, input_pipeline
from cnnstudy.training.signals import StopRequest


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


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed every generator and set the determinism (:func:`set_determinism`)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    set_determinism(deterministic)


def set_determinism(deterministic: bool) -> None:
    """Forbid nondeterministic kernels (an op without a deterministic implementation raises,
    naming itself, into the run's log: a warning would go to stderr, outside it), or let cuDNN
    pick the fastest algorithm per shape. Process-wide, as torch keeps it."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic


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
