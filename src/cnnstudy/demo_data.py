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
    ann_id = 1
    folder = f"train{year}"
    for k, idx in enumerate(order):
        primary = plan[idx]
        image_id = int(9 + 7 * k + rng.integers(0, 7))  # sparse ids, like COCO's
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
        for name, r in objects:
            cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
            kind, color = SHAPES[name]
            jitter = rng.integers(-25, 26, size=3)
            area = _draw(draw, kind, tuple(int(v) for v in np.clip(np.array(color) + jitter, 0, 255)), cx, cy, r)
            x0, y0 = max(cx - r, 0.0), max(cy - r, 0.0)
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": cat_id[name],
                    "bbox": [round(x0, 2), round(y0, 2), round(2 * r, 2), round(2 * r, 2)],
                    "area": round(area, 2),
                    "segmentation": [[round(v, 2) for p in _shape_polygon("square", cx, cy, r) for v in p]],
                    "iscrowd": 0,
                }
            )
            ann_id += 1
        if rng.random() < 0.125:
            img = img.convert("L")  # COCO has grayscale images; the builder must cope
        file_name = f"COCO_train{year}_{image_id:012d}.jpg" if year == 2014 else f"{image_id:012d}.jpg"
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        files[f"{folder}/{file_name}"] = buf.getvalue()
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
