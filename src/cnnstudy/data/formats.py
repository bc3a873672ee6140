"""Readers (and, for the demo twins, writers) of the datasets' official file formats.

No pickle of downloaded data is ever loaded: CIFAR-10 is read from its binary release,
MNIST from its idx files, Imagenette from its folder layout.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from cnnstudy.data.class_names import IMAGENETTE_CLASSES

CIFAR_RECORD = 1 + 3 * 32 * 32
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class FormatError(ValueError):
    """A file is not in the format it should be; the message names the file and the fix."""


def _read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise FormatError(
            f"{path}: truncated or corrupt gzip ({exc}); delete it and rerun to download it again"
        ) from exc


# ----------------------------------------------------------------------------- MNIST idx
def read_idx(path: str | Path) -> np.ndarray:
    """An idx file (optionally gzipped) as a NumPy array, after checking magic and size."""
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise FormatError(f"{path}: wrong idx magic {data[:4].hex()!r} (expected 0000 08..0e ..); not an idx file")
    dtype, ndim = np.dtype(IDX_TYPES[data[2]]), data[3]
    if len(data) < 4 + 4 * ndim:
        raise FormatError(f"{path}: idx header truncated")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    expected = math.prod(dims) * dtype.itemsize  # Python integers: np.prod wraps past 2**63
    body = data[4 + 4 * ndim :]
    if len(body) != expected:
        raise FormatError(
            f"{path}: idx header says {dims} ({expected} bytes) but {len(body)} bytes follow; file truncated"
        )
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def idx_bytes(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


# ----------------------------------------------------------------------------- CIFAR-10 binary
def read_cifar_binary(paths) -> tuple[np.ndarray, np.ndarray]:
    """Records of 1 label byte + 3072 pixel bytes (CHW) from the given batch files."""
    xs, ys = [], []
    for p in map(Path, paths):
        data = p.read_bytes()
        if len(data) == 0 or len(data) % CIFAR_RECORD:
            raise FormatError(
                f"{p}: {len(data)} bytes is not a multiple of the CIFAR-10 record length {CIFAR_RECORD}; "
                "the archive is corrupt: delete it and rerun"
            )
        rec = np.frombuffer(data, np.uint8).reshape(-1, CIFAR_RECORD)
        if rec[:, 0].max() > 9:
            raise FormatError(f"{p}: label {rec[:, 0].max()} out of range 0-9; not a CIFAR-10 batch")
        ys.append(rec[:, 0].astype(np.int64))
        xs.append(rec[:, 1:].reshape(-1, 3, 32, 32))
    return np.concatenate(xs), np.concatenate(ys)


def cifar_binary_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    return np.concatenate([y.astype(np.uint8)[:, None], x.reshape(len(x), -1)], axis=1).tobytes()


# ----------------------------------------------------------------------------- images
# The study's images are at most a few megapixels (COCO 640 px, Imagenette's full release
# about 4000 x 3000); past this an image is refused before it is decoded (a crafted 30000 px
# PNG would take gigabytes).
IMAGE_PIXEL_LIMIT = 50_000_000


def open_rgb(path: str | Path) -> Image.Image:
    """The image at ``path`` decoded as RGB, or a FormatError naming it and why: unreadable,
    or larger than IMAGE_PIXEL_LIMIT (checked from its header, before decoding)."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > IMAGE_PIXEL_LIMIT:
                raise FormatError(f"{path}: {w} x {h} pixels, past the limit of {IMAGE_PIXEL_LIMIT:,}; not decoded")
            return im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FormatError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from exc


# ----------------------------------------------------------------------------- Imagenette folders
def _square(img: Image.Image, size: int) -> np.ndarray:
    """Resize the shorter side to ``size`` and center-crop: no distortion of the object."""
    w, h = img.size
    s = size / min(w, h)
    img = img.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)))


def read_image_folders(root: str | Path, size: int, classes: dict[str, str] = IMAGENETTE_CLASSES):
    """``root/<split>/<wnid>/*.JPEG`` -> {split: (uint8 NCHW, labels)}, class names in wnid order."""
    root = Path(root)
    wnids = sorted(classes)
    splits = {}
    for split_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        found = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
        unknown = sorted(set(found) - set(classes))
        if unknown:
            raise FormatError(f"{split_dir}: unknown class folder(s) {unknown}; expected wnids {wnids}")
        xs, ys, bad = [], [], []
        for label, wnid in enumerate(wnids):
            for f in sorted((split_dir / wnid).glob("*")) if (split_dir / wnid).is_dir() else []:
                try:
                    xs.append(_square(open_rgb(f), size))
                except FormatError as exc:
                    bad.append(str(exc))
                ys.append(label)
        if bad:
            raise FormatError(
                f"{len(bad)} unreadable or oversized image(s) under {split_dir}, extracted from its archive: "
                f"{'; '.join(bad[:10])}. Check the archive's checksum and source, then delete {split_dir.parent} "
                "and rerun to extract it again"
            )
        if not xs:
            raise FormatError(f"{split_dir}: no images found")
        splits[split_dir.name] = (np.stack(xs).transpose(0, 3, 1, 2), np.asarray(ys, np.int64))
    return splits, [classes[w] for w in wnids]


# ----------------------------------------------------------------------------- deterministic archives
def deterministic_targz(members: dict[str, bytes]) -> bytes:
    """A .tar.gz whose bytes depend only on ``members`` (fixed times, owners and order)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        dirs = sorted({str(Path(n).parents[i]) for n in members for i in range(len(Path(n).parents) - 1)})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tf.addfile(info)
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(members[name]), 0o644, 0
            tf.addfile(info, io.BytesIO(members[name]))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def deterministic_gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    return out.getvalue()
