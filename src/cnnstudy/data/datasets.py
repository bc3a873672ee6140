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
STRUCTURE_KEY = "structure"  # the sha256 entry of the split names, their keys and every other digest
# The splits of each dataset kind: the epoch is chosen on val; test exists where the official
# data has one. Training reads test where it is present, so a renamed split would silently
# change the study's metric: a dataset with other splits is refused.
SPLITS_OF_KIND = {
    "cifar10": ("train", "val", "test"),
    "mnist": ("train", "val", "test"),
    "mnist_varres": ("train", "val", "test"),
    "coco": ("train", "val"),
    "imagenette": ("train", "val"),
}
SPLIT_NAMES = ("train", "val", "test")


def labels_digest(classes, meta) -> str:
    text = json.dumps({"classes": list(classes), "meta": meta}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def structure_digest(data: dict) -> str:
    """sha256 over the names of the splits and their tensors and over every other digest: a
    flipped byte in a name (split "test" read as "tesp") changes it."""
    layout = {name: sorted(split) for name, split in data["splits"].items()}
    others = {k: v for k, v in data["sha256"].items() if k != STRUCTURE_KEY}
    text = json.dumps({"splits": layout, "sha256": others}, sort_keys=True)
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
    check_layout(out, path)
    out["sha256"][STRUCTURE_KEY] = structure_digest(out)
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
    try:
        check_layout(data, path)
    except DatasetError as exc:
        raise DatasetError(f"{exc}; {rebuild}") from None
    if verify:
        if structure_digest(data) != data["sha256"].get(STRUCTURE_KEY):
            raise DatasetError(
                f"{path}: its split names {sorted(data['splits'])} or their tensors' names do not match their recorded "
                f"sha256 (corrupted?); {rebuild}"
            )
        for name, s in data["splits"].items():
            if split_digest(s["x"], s["y"], s.get("size")) != data["sha256"].get(name):
                raise DatasetError(f"{path}: split {name!r} does not match its recorded sha256 (corrupted?); {rebuild}")
        if labels_digest(data["classes"], data.get("meta", {})) != data["sha256"].get(LABELS_KEY):
            raise DatasetError(
                f"{path}: its class names or metadata do not match their recorded sha256 (corrupted?); {rebuild}"
            )
    return data


def check_layout(data: dict, path) -> None:
    """The splits a prepared dataset must hold (those of its kind, where it names one; train and
    val always), each with uint8 NCHW images and as many labels: else an error naming the file
    and what is missing or unexpected."""
    splits, meta = data["splits"], data.get("meta") or {}
    if not isinstance(splits, dict) or not isinstance(data["sha256"], dict):
        raise DatasetError(f"{path}: its splits or sha256 entries are not a mapping")
    kind = meta.get("kind")
    if kind is not None and kind not in SPLITS_OF_KIND:
        raise DatasetError(f"{path}: dataset kind {kind!r} is not one of {sorted(SPLITS_OF_KIND)}")
    expected = set(SPLITS_OF_KIND[kind]) if kind else {"train", "val"}
    missing, unexpected = sorted(expected - set(splits)), sorted(set(splits) - (expected if kind else set(SPLIT_NAMES)))
    if missing or unexpected:
        of = (
            f"a {kind} dataset holds {list(SPLITS_OF_KIND[kind])}"
            if kind
            else "a dataset holds train, val and maybe test"
        )
        raise DatasetError(f"{path}: split(s) missing {missing}, unexpected {unexpected} ({of})")
    for name, split in splits.items():
        keys = set(split) if isinstance(split, dict) else set()
        if not {"x", "y"} <= keys or keys - {"x", "y", "size"}:
            raise DatasetError(
                f"{path}: split {name!r} holds {sorted(keys)}, not x and y (and size for variable resolution)"
            )
        x, y = split["x"], split["y"]
        if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)) or x.dtype != torch.uint8 or x.ndim != 4:
            raise DatasetError(f"{path}: split {name!r}: x must be a uint8 NCHW tensor and y a tensor of labels")
        if len(x) != len(y):
            raise DatasetError(f"{path}: split {name!r} has {len(x)} images but {len(y)} labels")


def class_counts(data: dict) -> pd.DataFrame:
    """Tidy table (split, class, count) for data cards."""
    rows = []
    for split, s in data["splits"].items():
        counts = torch.bincount(s["y"], minlength=len(data["classes"]))
        rows += [(split, c, int(n)) for c, n in zip(data["classes"], counts)]
    return pd.DataFrame(rows, columns=["split", "class", "count"])
