"""How long the config's whole grid takes on the present device, before running it.

For every run of the config: training steps per second measured on this device (random data
of the run's real input shape and batch size, the run's model and optimizer, a few seconds
of warm steps), times the run's steps (epochs x batches per epoch), times its seeds; plus the
epoch's evaluation of the validation split at the measured evaluation rate. Runs with the
same model, input and batch are measured once.

And the host memory a run's job needs: the measuring process's own (Python, torch and the
libraries, as a training job imports them), plus the prepared dataset's file (a job holds it
all), plus the tensors of one training step, measured: the weights, their gradients and the
optimizer's state after the timed steps, and every layer's output of a forward pass at the
run's batch (what autograd keeps for the backward pass).
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from cnnstudy import config as study_config
from cnnstudy.data.class_names import class_names
from cnnstudy.nets.models import build_model, place_model
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.devices import pick_device, resolve_precision
from cnnstudy.training.epoch import train_step
from cnnstudy.training.trainer import make_optimizer

# Official split sizes: (train, val, classes) of the training split before a validation carve-out.
OFFICIAL_TRAIN = {"cifar10": 50000, "mnist": 60000, "mnist_varres": 60000, "imagenette": 9469}
OFFICIAL_VAL = {"imagenette": 3925}


@dataclass(frozen=True)
class Rates:
    train_steps_per_second: float
    eval_images_per_second: float
    step_bytes: int  # the training step's tensors: weights, gradients, optimizer state, activations


def process_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def file_mb(path) -> float:
    return Path(path).stat().st_size / 1e6


def _state_bytes(model: torch.nn.Module, opt: torch.optim.Optimizer) -> int:
    """Weights, their gradients and every tensor of the optimizer's state, as they are."""
    tensors = [p for p in model.parameters()] + [p.grad for p in model.parameters() if p.grad is not None]
    tensors += [v for state in opt.state.values() for v in state.values() if torch.is_tensor(v)]
    return sum(t.nbytes for t in tensors)


def _activation_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Every leaf layer's output of one training-mode forward pass at the batch of ``x``."""
    total = []

    def count(module, inputs, output):
        total.extend(o.nbytes for o in (output if isinstance(output, tuple) else (output,)) if torch.is_tensor(o))

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return sum(total)


def split_sizes(config: dict, dataset: str) -> tuple[int, int]:
    """(train, val) images of a dataset of the config, from its official sizes and settings."""
    ds = config["datasets"][dataset]
    if ds["kind"] == "coco":
        return ds["train_per_class"] * len(ds["classes"]), ds["val_per_class"] * len(ds["classes"])
    if ds["kind"] == "mnist_varres":
        return split_sizes(config, ds["source"])
    if ds["kind"] == "imagenette":
        return OFFICIAL_TRAIN["imagenette"], OFFICIAL_VAL["imagenette"]
    return OFFICIAL_TRAIN[ds["kind"]] - ds["val_size"], ds["val_size"]


def _timed(fn, sync, budget: float, min_calls: int = 3) -> float:
    """Calls per second of ``fn`` after two warm calls, over about ``budget`` seconds; the
    device is waited for at the end only, as the training loop never waits per step."""
    for _ in range(2):
        fn()
    sync()
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < budget:
        fn()
        calls += 1
    sync()
    return calls / (time.perf_counter() - start)


def measure(cfg: RunConfig, shape: tuple, classes: int, device: torch.device, budget: float) -> Rates:
    torch.manual_seed(0)
    model = place_model(build_model(cfg.arch, shape, classes, conv_impl=cfg.conv_impl, **cfg.options), device)
    opt = make_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
    bf16 = resolve_precision(cfg.precision, device) == "bf16"
    x = torch.randn(cfg.batch_size, *shape, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (cfg.batch_size,), device=device)
    xe = torch.randn(cfg.eval_batch_size, *shape, device=device).contiguous(memory_format=torch.channels_last)

    def step():
        train_step(model, opt, x, y, bf16)

    @torch.no_grad()
    def score():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model(xe).argmax(1)

    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    model.train()
    steps = _timed(step, sync, budget)
    step_bytes = _state_bytes(model, opt) + _activation_bytes(model, x)
    model.eval()
    return Rates(steps, _timed(score, sync, budget / 2) * cfg.eval_batch_size, step_bytes)


def prepared_sizes(count_tables: dict) -> dict:
    """dataset -> (train, val) images, from the data cards' per-class counts of prepared datasets."""
    sizes = {}
    for dataset, path in count_tables.items():
        counts = pd.read_csv(path).groupby("split")["count"].sum()
        sizes[dataset] = (int(counts.get("train", 0)), int(counts.get("val", 0)))
    return sizes


@dataclass(frozen=True)
class Prepared:
    """What the pipeline prepared: per dataset its (train, val) images and its file's MB."""

    sizes: dict
    data_mb: dict


def project(config: dict, budget: float = 3.0, log=print, prepared: Prepared | None = None) -> pd.DataFrame:
    """One row per selected run of the config: measured rates and projected seconds (all its
    seeds), and the memory its job needs, on the ``prepared`` datasets where given, else the
    official sizes (planning; then no dataset's file counts in the memory)."""
    prepared = prepared or Prepared({}, {})
    base_mb = process_mb()  # before any model: what every job holds before its data and tensors
    device = pick_device(config["device"])
    rows, cache = [], {}
    for study, run in dict.fromkeys((s, r) for s, r, _ in study_config.runs(config)):
        dataset = config["studies"][study]["dataset"]
        n_train, n_val = prepared.sizes.get(dataset) or split_sizes(config, dataset)
        cfg = study_config.run_config(config, study, run, 0)
        shape = study_config.input_shape(config, study, run)
        key = (cfg.arch, str(cfg.options), shape, cfg.batch_size, cfg.optimizer, cfg.conv_impl, cfg.precision)
        if key not in cache:
            classes = len(class_names(config["datasets"], dataset))
            cache[key] = measure(cfg, shape, classes, device, budget)
            log(f"{study}/{run}: {cache[key].train_steps_per_second:.1f} steps/s on {device}")
        seeds = len(study_config.seeds_of(config, study, run))
        row = _row(study, run, cfg, seeds, cache[key], n_train=n_train, n_val=n_val)
        row["memory_mb"] = base_mb + prepared.data_mb.get(dataset, 0.0) + cache[key].step_bytes / 1e6
        rows.append(row)
    return pd.DataFrame(rows).assign(device=_device_name(device))


def _row(study, run, cfg: RunConfig, seeds: int, rates: Rates, *, n_train: int, n_val: int) -> dict:
    steps = cfg.epochs * math.ceil(n_train / cfg.batch_size)
    marks = cfg.eval_every_steps and steps // cfg.eval_every_steps
    eval_images = cfg.epochs * n_val + marks * min(cfg.eval_subset, n_val)
    seconds = steps / rates.train_steps_per_second + eval_images / rates.eval_images_per_second
    return {
        "study": study,
        "run": run,
        "seeds": seeds,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "train_images": n_train,
        "steps_per_seed": steps,
        "steps_per_second": rates.train_steps_per_second,
        "train_images_per_second": rates.train_steps_per_second * cfg.batch_size,
        "seconds_per_seed": seconds,
        "seconds": seconds * seeds,
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({torch.get_num_threads()} threads)"


def per_study(table: pd.DataFrame) -> pd.DataFrame:
    totals = table.groupby("study", sort=False)[["seconds"]].sum()
    totals.loc["total"] = totals.seconds.sum()
    return totals.assign(hours=totals.seconds / 3600).reset_index()
