"""Tiny, learnable demo datasets written in the official file formats.

The demo config downloads these through ``file:`` URLs, so the demo runs the very same
download, verification, extraction and parsing code as the full study. Everything is drawn
from a seeded generator and archived with fixed timestamps, so the bytes (and therefore the
checksums in ``config/demo.yaml``) are reproducible.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cnnstudy.data import formats
from cnnstudy.data.class_names import CIFAR10_CLASSES, IMAGENETTE_CLASSES

# Official COCO category ids for the study's classes plus distractors.
COCO_CATEGORIES = [
    (1, "person", "person"),
    (3, "car", "vehicle"),
    (5, "airplane", "vehicle"),
    (6, "bus", "vehicle"),
    (17, "cat", "animal"),
    (18, "dog", "animal"),
    (59, "pizza", "food"),
    (62, "chair", "furniture"),
]
# One shape and colour per category; shape alone separates the study classes, so the
# grayscale images stay learnable.
SHAPES = {
    "airplane": ("triangle", (200, 60, 60)),
    "bus": ("bar", (230, 200, 40)),
    "cat": ("disc", (60, 160, 60)),
    "dog": ("cross", (60, 90, 220)),
    "pizza": ("ring", (220, 120, 30)),
    "person": ("vbar", (150, 150, 150)),
    "car": ("square", (120, 60, 160)),
    "chair": ("diamond", (90, 200, 200)),
}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _shape_polygon(kind: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if kind == "triangle":
        return [(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)]
    if kind == "bar":
        return [(cx - r, cy - r / 2), (cx + r, cy - r / 2), (cx + r, cy + r / 2), (cx - r, cy + r / 2)]
    if kind == "vbar":
        return [(cx - r / 3, cy - r), (cx + r / 3, cy - r), (cx + r / 3, cy + r), (cx - r / 3, cy + r)]
    if kind == "square":
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if kind == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]


def _draw(draw: ImageDraw.ImageDraw, kind: str, color, cx, cy, r) -> float:
    """Draw one object; return its approximate pixel area (the COCO ``area`` field)."""
    if kind == "disc":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        return float(np.pi * r * r)
    if kind == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        draw.ellipse([cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2], fill=(20, 20, 20))
        return float(0.75 * np.pi * r * r)
    if kind == "cross":
        w = r / 3
        draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=color)
        draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=color)
        return float(2 * (2 * r) * (2 * w) - (2 * w) ** 2)
    poly = _shape_polygon(kind, cx, cy, r)
    draw.polygon(poly, fill=color)
    xs, ys = np.array(poly).T
    return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])
    return buf.getvalue()


def _coco_image(rng, primary: str | None, study: list, distractors: list):
    """A noisy background with the image's objects drawn on it: (image, [(name, cx, cy, r, area)])."""
    w, h = int(rng.integers(96, 161)), int(rng.integers(96, 161))
    base = rng.integers(0, 60, size=3)
    noise = rng.integers(0, 50, size=(h, w, 3))
    img = Image.fromarray((base + noise).clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    objects = []
    if primary is not None:
        objects.append((primary, rng.uniform(0.28, 0.4) * min(w, h)))
        if rng.random() < 0.35:
            other = study[(study.index(primary) + 1 + rng.integers(0, 4)) % 5]
            objects.append((other, rng.uniform(0.1, 0.15) * min(w, h)))
    for _ in range(int(rng.integers(0 if primary else 1, 3))):
        objects.append((distractors[rng.integers(0, 3)], rng.uniform(0.08, 0.14) * min(w, h)))
    drawn = []
    for name, r in objects:
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        kind, color = SHAPES[name]
        jitter = rng.integers(-25, 26, size=3)
        area = _draw(draw, kind, tuple(int(v) for v in np.clip(np.array(color) + jitter, 0, 255)), cx, cy, r)
        drawn.append((name, cx, cy, r, area))
    return img, drawn


def _coco_annotation(ann_id: int, image_id: int, category_id: int, drawn: tuple) -> dict:
    """COCO's annotation record of one drawn object ``(name, cx, cy, r, area)``."""
    _, cx, cy, r, area = drawn
    x0, y0 = max(cx - r, 0.0), max(cy - r, 0.0)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [round(x0, 2), round(y0, 2), round(2 * r, 2), round(2 * r, 2)],
        "area": round(area, 2),
        "segmentation": [[round(v, 2) for p in _shape_polygon("square", cx, cy, r) for v in p]],
        "iscrowd": 0,
    }


def make_coco(
    out_dir: str | Path,
    *,
    images_per_class: int = 40,
    distractor_images: int = 12,
    seed: int = 0,
    year: int = 2014,
) -> dict[str, Path]:
    """Write ``train{year}.zip`` and ``annotations_trainval{year}.zip`` in COCO's layout.

    Each image holds one large object of a study class (its dominant class); about a third
    also hold a smaller object of another study class, many hold distractor objects, some
    images hold distractors only, and about one in eight is stored as grayscale JPEG.
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study = ["airplane", "bus", "cat", "dog", "pizza"]
    distractors = ["person", "car", "chair"]
    cat_id = {name: cid for cid, name, _ in COCO_CATEGORIES}
    plan = [c for c in study for _ in range(images_per_class)] + [None] * distractor_images
    order = rng.permutation(len(plan))
    images, annotations, files = [], [], {}
    folder = f"train{year}"
    for k, idx in enumerate(order):
        image_id = int(9 + 7 * k + rng.integers(0, 7))  # sparse ids, like COCO's
        img, objects = _coco_image(rng, plan[idx], study, distractors)
        for obj in objects:
            annotations.append(_coco_annotation(len(annotations) + 1, image_id, cat_id[obj[0]], obj))
        if rng.random() < 0.125:
            img = img.convert("L")  # COCO has grayscale images; the builder must cope
        file_name = f"COCO_train{year}_{image_id:012d}.jpg" if year == 2014 else f"{image_id:012d}.jpg"
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        files[f"{folder}/{file_name}"] = buf.getvalue()
        w, h = img.size
        images.append({"id": image_id, "file_name": file_name, "width": w, "height": h, "license": 1})
    instances = {
        "info": {"description": "cnnstudy demo COCO twin", "version": "1.0", "year": year},
        "licenses": [{"id": 1, "name": "CC0", "url": ""}],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n, "supercategory": s} for i, n, s in COCO_CATEGORIES],
    }
    ann_json = json.dumps(instances, sort_keys=True).encode()
    paths = {
        "images": out / f"train{year}.zip",
        "annotations": out / f"annotations_trainval{year}.zip",
    }
    paths["images"].write_bytes(_zip_bytes(files))
    paths["annotations"].write_bytes(_zip_bytes({f"annotations/instances_train{year}.json": ann_json}))
    return paths


# ----------------------------------------------------------------------------- CIFAR, MNIST, Imagenette twins

# Ten learnable classes: five shapes in a warm and a cool colour.
TEN_CLASSES = [(shape, warm) for warm in (True, False) for shape in ("triangle", "bar", "disc", "cross", "ring")]
# 5x7 bitmaps of the digits 0-9 (rows top to bottom, 5 bits each)
DIGITS = [
    "01110 10001 10011 10101 11001 10001 01110",
    "00100 01100 00100 00100 00100 00100 01110",
    "01110 10001 00001 00010 00100 01000 11111",
    "11111 00010 00100 00010 00001 10001 01110",
    "00010 00110 01010 10010 11111 00010 00010",
    "11111 10000 11110 00001 00001 10001 01110",
    "00110 01000 10000 11110 10001 10001 01110",
    "11111 00001 00010 00100 01000 01000 01000",
    "01110 10001 10001 01110 10001 10001 01110",
    "01110 10001 10001 01111 00001 00010 01100",
]


def _shape_image(rng, label: int, w: int, h: int) -> Image.Image:
    shape, warm = TEN_CLASSES[label]
    img = Image.fromarray(
        (rng.integers(0, 60, size=3) + rng.integers(0, 40, size=(h, w, 3))).clip(0, 255).astype(np.uint8)
    )
    base = np.array([210, 90, 40]) if warm else np.array([40, 110, 210])
    color = tuple(int(v) for v in np.clip(base + rng.integers(-30, 31, size=3), 0, 255))
    r = rng.uniform(0.28, 0.42) * min(w, h)
    _draw(ImageDraw.Draw(img), shape, color, rng.uniform(r, w - r), rng.uniform(r, h - r), r)
    return img


def _digit_image(rng, label: int, size: int = 28) -> np.ndarray:
    glyph = np.array([[c == "1" for c in row] for row in DIGITS[label].split()], np.uint8) * 255
    scale = int(rng.integers(2, 4))
    big = np.kron(glyph, np.ones((scale, scale), np.uint8))
    img = np.zeros((size, size), np.float64)
    top, left = rng.integers(0, size - big.shape[0] + 1), rng.integers(0, size - big.shape[1] + 1)
    img[top : top + big.shape[0], left : left + big.shape[1]] = big * rng.uniform(0.7, 1.0)
    img += rng.normal(0, 12, size=img.shape)
    return img.clip(0, 255).astype(np.uint8)


def make_cifar10(out_dir, *, train_per_class: int = 30, test_per_class: int = 10, seed: int = 0) -> dict[str, Path]:
    """``cifar-10-binary.tar.gz`` in the official layout: five data batches, a test batch, meta."""
    rng = np.random.default_rng(seed)

    def draw(per_class):
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        x = np.stack([np.asarray(_shape_image(rng, int(label), 32, 32)).transpose(2, 0, 1) for label in labels])
        return x, labels

    xtr, ytr = draw(train_per_class)
    xte, yte = draw(test_per_class)
    members = {
        f"cifar-10-batches-bin/data_batch_{i + 1}.bin": formats.cifar_binary_bytes(xb, yb)
        for i, (xb, yb) in enumerate(zip(np.array_split(xtr, 5), np.array_split(ytr, 5)))
    }
    members["cifar-10-batches-bin/test_batch.bin"] = formats.cifar_binary_bytes(xte, yte)
    members["cifar-10-batches-bin/batches.meta.txt"] = ("\n".join(CIFAR10_CLASSES) + "\n\n").encode()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "cifar-10-binary.tar.gz"
    path.write_bytes(formats.deterministic_targz(members))
    return {"archive": path}


def make_mnist(out_dir, *, train_per_class: int = 60, test_per_class: int = 20, seed: int = 0) -> dict[str, Path]:
    """The four official idx files, gzipped: 5x7 glyphs scaled, shifted and noised."""
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part, prefix, per_class in (("train", "train", train_per_class), ("test", "t10k", test_per_class)):
        labels = rng.permutation(np.repeat(np.arange(10), per_class)).astype(np.uint8)
        images = np.stack([_digit_image(rng, int(label)) for label in labels])
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            p = out / f"{prefix}-{kind}-ubyte.gz"
            p.write_bytes(formats.deterministic_gzip(formats.idx_bytes(arr)))
            paths[f"{part}_{kind.split('-')[0]}"] = p
    return paths


def make_imagenette(out_dir, *, train_per_class: int = 20, val_per_class: int = 8, seed: int = 0) -> dict[str, Path]:
    """``imagenette2-160.tgz``: ``imagenette2-160/{train,val}/<wnid>/*.JPEG``, shorter side 160."""
    rng = np.random.default_rng(seed)
    members = {}
    wnids = sorted(IMAGENETTE_CLASSES)
    for split, per_class in (("train", train_per_class), ("val", val_per_class)):
        for label, wnid in enumerate(wnids):
            for k in range(per_class):
                w, h = (160, int(rng.integers(160, 241))) if rng.random() < 0.5 else (int(rng.integers(160, 241)), 160)
                img = _shape_image(rng, label, w, h)
                if rng.random() < 0.1:
                    img = img.convert("L")  # the release holds a few grayscale JPEGs
                buf = io.BytesIO()
                img.save(buf, "JPEG", quality=90)
                members[f"imagenette2-160/{split}/{wnid}/{wnid}_{k:05d}.JPEG"] = buf.getvalue()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "imagenette2-160.tgz"
    path.write_bytes(formats.deterministic_targz(members))
    return {"archive": path}


def make_resnet18_weights(out_dir, *, seed: int = 0) -> dict[str, Path]:
    """``resnet18-demo.pth``: a seeded, untrained torchvision resnet18 state dict saved as
    torchvision publishes its weights (``torch.save`` of the state dict), so the demo's
    transfer-learning runs go through the same download, verification and loading."""
    import torch  # only this twin needs torch: the others are written without it
    from torchvision.models import resnet18

    torch.manual_seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "resnet18-demo.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    return {"weights": path}
