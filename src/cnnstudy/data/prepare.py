"""Prepare every non-COCO dataset of the study into the cache format of :mod:`cnnstudy.data.datasets`.

Each ``prepare_<kind>`` takes the dataset's config entry and its input paths and returns
``(splits, classes)``; splits map a name to (uint8 NCHW images, int64 labels), plus sizes
for variable-resolution data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnstudy.data import datasets, formats
from cnnstudy.data.class_names import MNIST_CLASSES


class PrepareError(ValueError):
    pass


def carve_validation(x, y, val_size: int, seed: int):
    """Split a seeded, reproducible validation set off the training data."""
    if not 0 <= val_size < len(x):
        raise PrepareError(f"val_size {val_size} must be between 0 and the {len(x)} training images")
    perm = np.random.default_rng(seed).permutation(len(x))
    val, train = np.sort(perm[:val_size]), np.sort(perm[val_size:])
    out = {"train": (x[train], y[train])}
    if val_size:
        out["val"] = (x[val], y[val])
    return out


def prepare_cifar10(spec: dict, root: str | Path):
    """``root`` is the extracted ``cifar-10-batches-bin`` folder."""
    root = Path(root)
    names = [root / f"data_batch_{i}.bin" for i in range(1, 6)] + [root / "test_batch.bin", root / "batches.meta.txt"]
    missing = [str(p) for p in names if not p.is_file()]
    if missing:
        raise PrepareError(f"CIFAR-10 files missing: {missing}; is {root} the extracted cifar-10-batches-bin folder?")
    classes = [c for c in (root / "batches.meta.txt").read_text().split() if c]
    x, y = formats.read_cifar_binary(names[:5])
    splits = carve_validation(x, y, spec["val_size"], spec["seed"])
    splits["test"] = formats.read_cifar_binary([root / "test_batch.bin"])
    return splits, classes


def prepare_mnist(spec: dict, files: dict):
    """``files`` maps train_images, train_labels, test_images, test_labels to idx(.gz) paths."""
    arrays = {k: formats.read_idx(p) for k, p in files.items()}
    for part in ("train", "test"):
        xi, yi = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if xi.ndim != 3 or yi.ndim != 1 or len(xi) != len(yi):
            images, labels = files[f"{part}_images"], files[f"{part}_labels"]
            names = " and ".join(f"downloads.{spec['files'][f'{part}_{k}']}" for k in ("images", "labels"))
            raise PrepareError(
                f"MNIST {part}: {images} holds {len(xi):,} images of shape {xi.shape[1:]} but {labels} holds "
                f"{len(yi):,} labels: the two files come from different releases, or one is truncated. Check "
                f"{names} in the config, delete both files and rerun to fetch them again"
            )
    splits = carve_validation(
        arrays["train_images"][:, None], arrays["train_labels"].astype(np.int64), spec["val_size"], spec["seed"]
    )
    splits["test"] = (arrays["test_images"][:, None], arrays["test_labels"].astype(np.int64))
    return splits, list(MNIST_CLASSES)


def paste_on_canvas(x: np.ndarray, sizes, seed: int):
    """Paste each digit at a random place of a black canvas of a random size from ``sizes``.

    Returns (canvases padded to the largest size, top-left aligned; per-image size).
    """
    rng = np.random.default_rng(seed)
    n, c, h, w = x.shape
    big = max(sizes)
    chosen = rng.choice(np.asarray(sizes), size=n)
    out = np.zeros((n, c, big, big), np.uint8)
    for i, s in enumerate(chosen):
        if s < max(h, w):
            raise PrepareError(f"canvas size {s} is smaller than the {h}x{w} digits")
        top, left = rng.integers(0, s - h + 1), rng.integers(0, s - w + 1)
        out[i, :, top : top + h, left : left + w] = x[i]
    return out, chosen.astype(np.int64)


def prepare_mnist_varres(spec: dict, source: str | Path):
    """Derived from a prepared mnist: one canvas size per image, deterministic by seed."""
    src = datasets.load(source)
    splits = {}
    for k, (name, s) in enumerate(src["splits"].items()):
        canvas, sizes = paste_on_canvas(s["x"].numpy(), spec["sizes"], spec["seed"] + k)
        splits[name] = (canvas, s["y"].numpy(), sizes)
    return splits, src["classes"]


def prepare_imagenette(spec: dict, root: str | Path):
    """``root`` is the extracted ``imagenette2-160`` folder (train/ and val/)."""
    splits, classes = formats.read_image_folders(root, spec["size"])
    if set(splits) != {"train", "val"}:
        raise PrepareError(f"{root}: expected train/ and val/ folders, found {sorted(splits)}")
    return splits, classes


PREPARE = {
    "cifar10": prepare_cifar10,
    "mnist": prepare_mnist,
    "mnist_varres": prepare_mnist_varres,
    "imagenette": prepare_imagenette,
}
