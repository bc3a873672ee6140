"""Epoch checkpoints of a training run: written atomically, verified over all their content
when read back, read only with ``weights_only=True``, and resumed only by the run that wrote
them (same settings, training code, data, pretrained weights, device and precision). Anything
else is logged and the run starts afresh.

A checkpoint file holds the state serialized by ``torch.save`` as one byte tensor beside its
sha256: ``torch.load`` checks no CRC, so a flipped bit in a weight would otherwise resume
silently into a run whose numbers differ from an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import shutil
from pathlib import Path

import torch

FORMAT = 3  # bump when the fields change: an older checkpoint is then not resumed


class CheckpointError(RuntimeError):
    """A checkpoint could not be written; the message names the file, the cause and the space."""


def _free_mb(folder: Path) -> float:
    try:
        return shutil.disk_usage(folder).free / 2**20
    except OSError:
        return float("nan")


def save(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a kill mid-write leaves the previous checkpoint;
    a failed write (a full disk) removes its temporary file and says why."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getbuffer()  # a view, not a copy: VGG's checkpoint is 362 MB
    digest = hashlib.sha256(payload).hexdigest()
    wrapped = {"format": FORMAT, "sha256": digest, "payload": torch.frombuffer(payload, dtype=torch.uint8)}
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(wrapped, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch's zip writer raises RuntimeError on a full disk
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"could not write checkpoint {path} ({len(payload) / 2**20:.1f} MB): {' '.join(str(exc).split())}; "
            f"{_free_mb(path.parent):.1f} MB free on its disk. The previous checkpoint, if any, is untouched; "
            "free space and rerun: the run resumes from it"
        ) from exc


def _set_aside(path: Path, reason: str, log) -> None:
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    log(f"checkpoint {path} is unreadable ({reason}); moved to {aside}; starting afresh")


def read(path: Path, log) -> dict | None:
    """The state in ``path``, verified against its sha256; None (logged, set aside) if not."""
    try:
        wrapped = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(wrapped, dict) or wrapped.get("format") != FORMAT:
            log(f"checkpoint {path} has another format than {FORMAT}; starting afresh")
            return None
        payload = wrapped["payload"].numpy().tobytes()
        if hashlib.sha256(payload).hexdigest() != wrapped["sha256"]:
            _set_aside(path, "its content does not match its sha256: changed on disk", log)
            return None
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is handled the same way
        # PyTorch's whole reason: cut short, its refusal of a pickle read like advice to load it anyway
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no message'}"
        if isinstance(exc, pickle.UnpicklingError):
            reason += ". This pipeline reads checkpoints with weights_only=True only, and never otherwise"
        _set_aside(path, reason, log)
        return None


def load(path: Path, resume_key: dict, log) -> dict | None:
    """The checkpoint at ``path`` if it belongs to ``resume_key``, else None (with the reason logged).

    Read onto the CPU whatever device wrote it: generator states must stay CPU byte tensors
    (mapped to CUDA, every resume on a GPU failed), and the trainer moves weights and
    optimizer state to its own device when it loads them.

    An unreadable file (truncated, changed on disk, or holding anything but tensors and plain
    data) is moved aside to ``<path>.corrupt`` so the evidence is kept and the run starts afresh.
    """
    if not path.exists():
        return None
    state = read(path, log)
    if state is None:
        return None
    stored = state.get("resume_key", {})
    changed = sorted(k for k in resume_key if stored.get(k) != resume_key[k])
    if changed:
        log(f"checkpoint {path} was written with other {', '.join(changed)}; starting afresh")
        return None
    return state


def remove(path: Path) -> int:
    """Delete a finished run's checkpoint and its folder if that leaves it empty; the bytes freed."""
    path = Path(path)
    size = path.stat().st_size if path.exists() else 0
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty (a .corrupt copy kept for a look): leave it
        path.parent.rmdir()
    return size


def to_device(value, device):
    """The tensors of a checkpointed structure (dicts, lists, tensors) on the run's device."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return [to_device(v, device) for v in value] if isinstance(value, list) else value
