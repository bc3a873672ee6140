"""Build the seed-002 COCO classification subset with pycocotools.

Better than the report's per-class sampling: each image gets exactly one label (the study
class covering the largest annotated area in it, so "a cat next to a big dog" is a dog),
images are drawn per class without replacement from disjoint pools, and train/val never
share an image. A manifest records image id, file, class, split and the sha256 of the
written image, so the subset is exactly reproducible and auditable.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from PIL import Image

from cnnstudy.data.formats import FormatError, open_rgb


class SubsetError(ValueError):
    """The requested subset cannot be built from the given annotations and images."""


def load_coco(annotation_file: str | Path):
    """The annotation file as a pycocotools index; a file that is not COCO instances JSON fails naming it."""
    from pycocotools.coco import COCO

    path = Path(annotation_file)
    if not path.is_file():
        raise SubsetError(f"COCO annotation file {path} does not exist; check datasets.<name>.annotations.path")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            coco = COCO(str(path))
    except (ValueError, KeyError, TypeError, AttributeError, AssertionError) as exc:
        raise SubsetError(
            f"{path} is not a COCO instances annotation file ({type(exc).__name__}: {exc}); "
            "point datasets.<name>.annotations.path at instances_train2014.json"
        ) from exc
    missing = [k for k in ("images", "annotations", "categories") if k not in coco.dataset]
    if missing:
        raise SubsetError(f"{path} is not a COCO instances annotation file: it has no {missing}")
    return coco


def category_ids(coco, classes: list[str]) -> dict[str, int]:
    """Map class names to COCO category ids, in the config's class order."""
    ids = coco.getCatIds(catNms=classes)
    by_name = {c["name"]: c["id"] for c in coco.loadCats(ids)}
    missing = [c for c in classes if c not in by_name]
    if missing:
        known = sorted(c["name"] for c in coco.loadCats(coco.getCatIds()))
        raise SubsetError(f"classes {missing} are not COCO categories of this annotation file; known: {known}")
    return {c: by_name[c] for c in classes}


def dominant_class(coco, classes: list[str]) -> dict[int, int]:
    """image id -> index of the study class with the largest total annotated area."""
    cats = category_ids(coco, classes)
    index_of = {cid: i for i, cid in enumerate(cats.values())}
    areas: dict[int, np.ndarray] = {}
    for cid in cats.values():
        for img_id in coco.getImgIds(catIds=[cid]):
            if img_id in areas:
                continue
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id], catIds=list(cats.values()), iscrowd=None))
            total = np.zeros(len(classes))
            for a in anns:
                total[index_of[a["category_id"]]] += a["area"]
            areas[img_id] = total
    return {img_id: int(np.argmax(total)) for img_id, total in areas.items()}  # ties -> first class


def select_images(coco, classes: list[str], train_per_class: int, val_per_class: int, seed: int) -> pd.DataFrame:
    """Seeded choice of train/val image ids per class from disjoint per-class pools."""
    owner = dominant_class(coco, classes)
    rng = np.random.default_rng(seed)
    need = train_per_class + val_per_class
    rows = []
    for label, name in enumerate(classes):
        pool = sorted(i for i, c in owner.items() if c == label)
        if len(pool) < need:
            raise SubsetError(
                f"class {name!r} has {len(pool)} images where it is the dominant study class, "
                f"but train_per_class + val_per_class = {need}; lower those counts in the config"
            )
        chosen = rng.choice(pool, size=need, replace=False)
        for k, img_id in enumerate(chosen):
            rows.append((int(img_id), name, label, "train" if k < train_per_class else "val"))
    df = pd.DataFrame(rows, columns=["image_id", "class", "label", "split"])
    df["file_name"] = [coco.loadImgs(i)[0]["file_name"] for i in df.image_id]
    return df


def _open_rgb(path: Path, size: int) -> np.ndarray:
    # Grayscale (and CMYK, palette) images exist in COCO: open_rgb forces three channels.
    return np.asarray(open_rgb(path).resize((size, size), Image.BILINEAR))


def image_path(image_dir: Path, file_name: str, annotation_file) -> Path:
    """``image_dir / file_name``, where ``file_name`` must name a file inside ``image_dir``:
    an absolute name or one with ``..`` would read any file of the machine."""
    name = PurePosixPath(str(file_name).replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or not name.parts or Path(str(file_name)).is_absolute():
        raise SubsetError(
            f"{annotation_file}: image file_name {file_name!r} is not a plain name inside the image folder "
            "(absolute, or with '..'); the annotation file is not COCO's: check its source and checksum"
        )
    return image_dir / name


def build_subset(
    annotation_file: str | Path,
    image_dir: str | Path,
    out_dir: str | Path,
    *,
    classes: list[str],
    train_per_class: int,
    val_per_class: int,
    size: int,
    seed: int,
) -> tuple[pd.DataFrame, dict]:
    """Write ``out_dir/images/<split>/<class>/<id>.png`` and return (manifest, tensors).

    The tensors dict is the dataset cache format of :mod:`cnnstudy.data.datasets`. Every missing
    or unreadable source image is collected first and reported in one error.
    """
    image_dir, out_dir = Path(image_dir), Path(out_dir)
    coco = load_coco(annotation_file)
    df = select_images(coco, classes, train_per_class, val_per_class, seed)
    pixels, bad = [], []
    sources = [image_path(image_dir, fname, annotation_file) for fname in df.file_name]
    for img_id, path in zip(df.image_id, sources):
        try:
            pixels.append(_open_rgb(path, size))
        except FormatError as exc:
            bad.append(f"{img_id} ({exc})")
    if bad:
        raise SubsetError(
            f"{len(bad)} selected COCO image(s) are missing or unreadable under {image_dir}: "
            + ", ".join(bad[:20])
            + (" ..." if len(bad) > 20 else "")
            + ". Re-extract the image archive (delete the extracted folder and rerun) or check images_dir."
        )
    hashes, paths = [], []
    for (split, name, img_id), px in zip(df[["split", "class", "image_id"]].itertuples(index=False), pixels):
        rel = Path("images") / split / name / f"{img_id:012d}.png"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.fromarray(px).save(buf, "PNG")
        data = buf.getvalue()
        (out_dir / rel).write_bytes(data)
        hashes.append(hashlib.sha256(data).hexdigest())
        paths.append(str(rel))
    df["path"], df["sha256"] = paths, hashes
    x = np.stack(pixels).transpose(0, 3, 1, 2)  # NHWC -> NCHW
    splits = {}
    for split in ("train", "val"):
        mask = (df.split == split).to_numpy()
        splits[split] = (x[mask], df.label.to_numpy()[mask])
    return df[["image_id", "file_name", "class", "label", "split", "path", "sha256"]], splits
