"""The one dataset format every training job reads: uint8 NCHW tensors per split.

A prepared dataset is a single ``data.pt`` holding ``classes``, per-split images and labels,
a sha256 of each split's bytes and one of its class names and metadata, so jobs load in well
under a second, every run records exactly which data it saw, and a changed byte anywhere is
noticed (``torch.load`` does not check the archive's CRCs: a flipped bit once turned
"airplane" into "airqlane" in every table, silently).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch


class DatasetError(ValueError):
    """A prepared dataset file is missing, malformed or inconsistent."""


def split_digest(x, y, size=None) -> str:
    h = hashlib.sha256()
    for a in (x, y) if size is None else (x, y, size):
        a = a.numpy() if isinstance(a, torch.Tensor) else a
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


LABELS_KEY = "classes and meta"  # the sha256 entry of the class names and metadata


def labels_digest(classes, meta) -> str:
    text = json.dumps({"classes": list(classes), "meta": meta}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def save(path: str | Path, splits: dict, classes: list[str], meta: dict | None = None) -> dict:
    """Write the cache; ``splits`` maps split name to (uint8 NCHW images, int labels) or, for
    variable-resolution data, (images padded top-left to the largest size, labels, sizes)."""
    out = {"classes": list(classes), "splits": {}, "sha256": {}, "meta": dict(meta or {})}
    for name, (x, y, *size) in splits.items():
        x = torch.as_tensor(np.ascontiguousarray(x))
        y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
        if x.dtype != torch.uint8 or x.ndim != 4:
            raise DatasetError(f"split {name!r}: images must be uint8 NCHW, got {x.dtype} {tuple(x.shape)}")
        if len(x) != len(y):
            raise DatasetError(f"split {name!r}: {len(x)} images but {len(y)} labels")
        out["splits"][name] = {"x": x, "y": y}
        if size:
            out["splits"][name]["size"] = torch.as_tensor(np.asarray(size[0]), dtype=torch.int64)
        out["sha256"][name] = split_digest(x, y, out["splits"][name].get("size"))
    out["sha256"][LABELS_KEY] = labels_digest(out["classes"], out["meta"])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def load(path: str | Path, verify: bool = True) -> dict:
    """Read a prepared dataset; with ``verify``, recompute every split's sha256 and compare it
    with the one stored at preparation, so a run never trains on bytes other than recorded."""
    path = Path(path)
    rebuild = f"delete it and rerun the pipeline: its dataset rule (prepare_dataset or coco_subset) rebuilds {path}"
    if not path.is_file():
        raise DatasetError(f"prepared dataset {path} does not exist; run the pipeline's dataset rule first")
    try:
        data = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt or not a dataset at all
        raise DatasetError(f"{path} is not a readable prepared dataset ({type(exc).__name__}); {rebuild}") from exc
    if not isinstance(data, dict) or not {"classes", "splits", "sha256"} <= set(data):
        raise DatasetError(f"{path} is not a prepared dataset (no classes/splits/sha256); {rebuild}")
    if verify:
        for name, s in data["splits"].items():
            if split_digest(s["x"], s["y"], s.get("size")) != data["sha256"].get(name):
                raise DatasetError(f"{path}: split {name!r} does not match its recorded sha256 (corrupted?); {rebuild}")
        if labels_digest(data["classes"], data.get("meta", {})) != data["sha256"].get(LABELS_KEY):
            raise DatasetError(
                f"{path}: its class names or metadata do not match their recorded sha256 (corrupted?); {rebuild}"
            )
    return data


def class_counts(data: dict) -> pd.DataFrame:
    """Tidy table (split, class, count) for data cards."""
    rows = []
    for split, s in data["splits"].items():
        counts = torch.bincount(s["y"], minlength=len(data["classes"]))
        rows += [(split, c, int(n)) for c, n in zip(data["classes"], counts)]
    return pd.DataFrame(rows, columns=["split", "class", "count"])
