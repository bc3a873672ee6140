"""One plain training function: data resident on the device, no per-step host sync,
checkpoints every epoch that resume exactly, divergence recorded as a result.

Metrics accumulate in device tensors and are copied to the host once per epoch, where the
epoch is logged, checked for divergence and checkpointed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import __version__, augment, code_digest, datasets, stage_files
from .models import build_model, count_parameters

STOP_ENV = "CNNSTUDY_STOP_AFTER_EPOCH"  # test hook: simulate a job killed after epoch N


def training_code() -> str:
    """Digest of the code a run depends on: a checkpoint from other code is not resumed."""
    return code_digest(stage_files("train"))


class TrainConfigError(ValueError):
    pass


def config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int, deterministic: bool = True) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def make_optimizer(cfg: dict, params):
    name = cfg.get("optimizer", "adam")
    lr, wd = float(cfg["lr"]), float(cfg.get("weight_decay", 0.0))
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(cfg.get("betas", (0.9, 0.999))), weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(cfg.get("momentum", 0.0)), weight_decay=wd)
    raise TrainConfigError(f"optimizer must be 'adam' or 'sgd', got {name!r}")


def make_scheduler(cfg: dict, opt):
    s = cfg.get("scheduler")
    if not s:
        return None
    return torch.optim.lr_scheduler.StepLR(opt, step_size=int(s["step_size"]), gamma=float(s["gamma"]))


class Normalizer(torch.nn.Module):
    """uint8 NCHW -> float, augmented (training only), standardized with the training split's
    per-channel statistics, and optionally resized (the fixed-size view of variable data)."""

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
        self.resize = resize

    def forward(self, x_u8, aug_cfg=None, gen=None):
        x = x_u8.float().div_(255)
        if aug_cfg:
            x = augment.augment_batch(x, aug_cfg, gen)
        x = (x - self.mean) / self.std
        if self.resize and x.shape[-1] != self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", antialias=True, align_corners=False)
        return x


def input_pipeline(train_split: dict, cfg: dict) -> tuple[Normalizer, tuple[int, int, int]]:
    """The run's normalizer (training statistics, optional resize) and the (C, H, W) its model sees."""
    resize = (cfg.get("input") or {}).get("resize")
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


def _take(x, order_dev, start, end, size):
    xb = x[order_dev[start:end]]
    return xb if size is None else xb[..., :size, :size]


def eval_plan(n: int, batch_size: int, sizes, device):
    """The fixed batching of an evaluation split, built once and kept on the device: moving an
    index tensor to the GPU at every evaluation would wait for the queued work each time."""
    order, bounds = batch_plan(n, batch_size, None, sizes)
    return order.to(device), bounds


@torch.no_grad()
def evaluate(model, norm, x, y, num_classes, plan):
    """Loss sum, correct count and confusion matrix over a split, all as device tensors."""
    model.eval()
    loss = torch.zeros((), device=x.device)
    conf = torch.zeros(num_classes * num_classes, dtype=torch.long, device=x.device)
    order, bounds = plan
    for start, end, size in bounds:
        out = model(norm(_take(x, order, start, end, size)))
        yb = y[order[start:end]]
        loss += F.cross_entropy(out, yb, reduction="sum")
        conf.index_add_(0, yb * num_classes + out.argmax(1), torch.ones_like(yb))  # bincount would sync
    conf = conf.view(num_classes, num_classes)
    return loss, conf.diagonal().sum(), conf


def _set_train_mode(model):
    model.train()
    if getattr(model, "bn_frozen", False):  # transfer learning with frozen BN statistics
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def _rng_state(gen, device):
    state = {"gen": gen.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_rng(state, gen, device):
    gen.set_state(state["gen"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _atomic_save(obj, path: Path):
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_run(
    cfg: dict,
    data_path: str | Path,
    out_dir: str | Path,
    checkpoint_path: str | Path,
    log=print,
) -> dict:
    """Train one (study, model, seed) run described by ``cfg``; write its outputs; return its summary.

    Outputs in ``out_dir``: ``metrics.csv`` (tidy: scope, epoch, step, split, loss, accuracy),
    ``confusion.csv`` (best epoch, train and val, tidy), ``best_model.pt`` and ``summary.json``.
    ``checkpoint_path`` holds the last finished epoch; a rerun with the same config resumes
    from it, a rerun with a changed config starts afresh.
    """
    t0 = time.time()
    out_dir, checkpoint_path = Path(out_dir), Path(checkpoint_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    seed = int(cfg["seed"])
    seed_everything(seed, cfg.get("deterministic", True))
    device = pick_device(cfg.get("device", "auto"))
    chash = config_hash(cfg)
    aug_cfg = augment.validate(cfg.get("augment"))

    data = datasets.load(data_path)
    classes, splits = data["classes"], data["splits"]
    k = len(classes)
    val_name = "val" if "val" in splits else "test"
    xtr, ytr = splits["train"]["x"].to(device), splits["train"]["y"].to(device)
    xva, yva = splits[val_name]["x"].to(device), splits[val_name]["y"].to(device)
    size_tr = splits["train"].get("size")  # variable resolution
    norm, in_shape = input_pipeline(splits["train"], cfg)
    norm.to(device)
    code = training_code()

    torch.manual_seed(seed)  # model init depends on the seed only, not on earlier draws
    model = build_model(cfg["arch"], in_shape, k, conv_impl=cfg.get("conv_impl", "torch"), **cfg.get("options", {}))
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(cfg, params)
    sched = make_scheduler(cfg, opt)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    aug_gen = torch.Generator(device=device).manual_seed(seed + 1) if aug_cfg else None

    bs, epochs = int(cfg["batch_size"]), int(cfg["epochs"])
    eval_bs = int(cfg.get("eval_batch_size", 512))
    val_plan = eval_plan(len(xva), eval_bs, splits[val_name].get("size"), device)
    every = int(cfg.get("eval_every_steps", 100))
    rows: list[dict] = []
    grad_rows: list[dict] = []  # per-layer gradient norms at every record step (vanishing gradients?)
    tracked = [(n, p) for n, p in model.named_parameters() if p.requires_grad and n.endswith("weight") and p.dim() > 1]
    best = {"epoch": 0, "val_accuracy": -1.0, "confusion": None}
    start_epoch, step, status = 1, 0, "completed"

    if checkpoint_path.exists():
        ck = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if ck.get("config_hash") == chash and ck.get("code") == code:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            if sched and ck.get("scheduler"):
                sched.load_state_dict(ck["scheduler"])
            _restore_rng(ck["rng"], gen, device)
            if aug_gen is not None:
                aug_gen.set_state(ck["aug_rng"])
            rows, grad_rows, best, step = ck["rows"], ck["grad_rows"], ck["best"], ck["step"]
            start_epoch = ck["epoch"] + 1
            log(f"resumed from {checkpoint_path} after epoch {ck['epoch']}")
        else:
            log(f"{checkpoint_path} belongs to another config or code version; starting afresh")

    for epoch in range(start_epoch, epochs + 1):
        _set_train_mode(model)
        order, bounds = batch_plan(len(xtr), bs, gen, size_tr)
        order = order.to(device)  # one transfer per epoch; batches are slices of it
        ep = torch.zeros(2, device=device)  # loss sum, correct (counts are known on the host)
        win = torch.zeros(2, device=device)
        ep_n = win_n = 0
        conf_tr = torch.zeros(k * k, dtype=torch.long, device=device)
        marks = []  # (step, window stats, window count, val loss, val correct, grad norms): device tensors
        for start, end, size in bounds:
            yb = ytr[order[start:end]]
            out = model(norm(_take(xtr, order, start, end, size), aug_cfg, aug_gen))
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            with torch.no_grad():
                pred = out.argmax(1)
                stats = torch.stack([loss.detach() * (end - start), (pred == yb).sum().float()])
                ep += stats
                win += stats
                ep_n, win_n = ep_n + end - start, win_n + end - start
                conf_tr.index_add_(0, yb * k + pred, torch.ones_like(yb))
            if every and step % every == 0:
                norms = torch.stack([p.grad.norm() if p.grad is not None else p.new_zeros(()) for _, p in tracked])
                vl, vc, _ = evaluate(model, norm, xva, yva, k, val_plan)
                marks.append((step, win.clone(), win_n, vl, vc, norms))
                win.zero_()
                win_n = 0
                _set_train_mode(model)
        if sched:
            sched.step()
        vl, vc, conf_va = evaluate(model, norm, xva, yva, k, val_plan)
        # the one host sync of the epoch
        ep_h, vl_h, vc_h = ep.tolist(), float(vl), int(vc)
        for s_, w, wn, l_, c_, gn in marks:
            w_h = w.tolist()
            rows.append(dict(scope="step", epoch=epoch, step=s_, split="train", loss=w_h[0] / wn, accuracy=w_h[1] / wn))
            rows.append(dict(scope="step", epoch=epoch, step=s_, split="val", loss=float(l_) / len(yva), accuracy=int(c_) / len(yva)))
            grad_rows += [dict(epoch=epoch, step=s_, depth=d, layer=name, grad_norm=g) for d, ((name, _), g) in enumerate(zip(tracked, gn.tolist()))]
        tr_loss, tr_acc = ep_h[0] / ep_n, ep_h[1] / ep_n
        va_loss, va_acc = vl_h / len(yva), vc_h / len(yva)
        rows.append(dict(scope="epoch", epoch=epoch, step=step, split="train", loss=tr_loss, accuracy=tr_acc))
        rows.append(dict(scope="epoch", epoch=epoch, step=step, split="val", loss=va_loss, accuracy=va_acc))
        log(f"epoch {epoch}/{epochs} step {step} train loss {tr_loss:.4f} acc {tr_acc:.4f} | {val_name} loss {va_loss:.4f} acc {va_acc:.4f}")
        if not (math.isfinite(tr_loss) and math.isfinite(va_loss)):
            status = "diverged"
            log(f"diverged at epoch {epoch}: non-finite loss; recording the history so far and stopping")
            break
        if va_acc > best["val_accuracy"]:
            best = {
                "epoch": epoch,
                "val_accuracy": va_acc,
                "confusion": {"train": conf_tr.view(k, k).cpu(), "val": conf_va.cpu()},
                "state": {kk: v.detach().cpu().clone() for kk, v in model.state_dict().items()},
            }
        ck = {
            "code": code, "config_hash": chash, "epoch": epoch, "step": step, "rows": rows, "grad_rows": grad_rows, "best": best,
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched else None,
            "rng": _rng_state(gen, device), "aug_rng": aug_gen.get_state() if aug_gen is not None else None,
        }
        _atomic_save(ck, checkpoint_path)
        if os.environ.get(STOP_ENV) and epoch == int(os.environ[STOP_ENV]) and epoch < epochs:
            raise SystemExit(f"{STOP_ENV}={epoch}: stopping after the checkpoint of epoch {epoch}")

    history = {"metrics": rows, "grad_norms": grad_rows}
    return _write_outputs(cfg, code, data, model, norm, history, best, status, device, val_name, eval_bs, out_dir, t0, log)


def _write_outputs(cfg, code, data, model, norm, history, best, status, device, val_name, eval_bs, out_dir, t0, log):
    classes = data["classes"]
    k = len(classes)
    ident = {"study": cfg.get("study"), "model": cfg.get("model"), "seed": int(cfg["seed"])}
    columns = {"metrics": ["scope", "epoch", "step", "split", "loss", "accuracy"],
               "grad_norms": ["epoch", "step", "depth", "layer", "grad_norm"]}
    frames = {name: pd.DataFrame([{**ident, **r} for r in history[name]], columns=[*ident, *cols]) for name, cols in columns.items()}
    for name, frame in frames.items():
        frame.to_csv(out_dir / f"{name}.csv", index=False)
    metrics = frames["metrics"]

    conf_rows = []
    test_acc = None
    if best["confusion"] is not None:
        model.load_state_dict(best["state"])
        torch.save(best["state"], out_dir / "best_model.pt")
        confs = dict(best["confusion"])
        if "test" in data["splits"] and val_name != "test":
            xt = data["splits"]["test"]["x"].to(device)
            yt = data["splits"]["test"]["y"].to(device)
            test_plan = eval_plan(len(xt), eval_bs, data["splits"]["test"].get("size"), device)
            _, correct, conf_te = evaluate(model, norm, xt, yt, k, test_plan)
            test_acc = int(correct) / len(yt)
            confs["test"] = conf_te.cpu()
        for split, m in confs.items():
            for t in range(k):
                for p in range(k):
                    conf_rows.append({**ident, "split": split, "true": classes[t], "predicted": classes[p], "count": int(m[t, p])})
    else:
        torch.save(model.state_dict(), out_dir / "best_model.pt")
    pd.DataFrame(conf_rows, columns=[*ident, "split", "true", "predicted", "count"]).to_csv(out_dir / "confusion.csv", index=False)

    ep = metrics[(metrics.scope == "epoch") & (metrics.split == "val")]
    summary = {
        **ident,
        "status": status,
        "arch": cfg["arch"],
        "dataset": cfg.get("dataset"),
        "epochs_run": int(ep.epoch.max()) if len(ep) else 0,
        "best_epoch": best["epoch"],
        "best_val_accuracy": best["val_accuracy"] if best["val_accuracy"] >= 0 else None,
        "final_val_accuracy": float(ep.accuracy.iloc[-1]) if len(ep) else None,
        "test_accuracy": test_acc,
        "chance_level": 1.0 / k,
        "parameters": count_parameters(model),
        "trainable_parameters": count_parameters(model, trainable_only=True),
        "seconds": round(time.time() - t0, 3),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "config_hash": config_hash(cfg),
        "code_sha256": code,
        "data_sha256": data.get("sha256", {}),
        "versions": {"cnnstudy": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "config": cfg,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    log(f"{status}: best {val_name} accuracy {summary['best_val_accuracy']} at epoch {best['epoch']}")
    return summary
