"""Epoch checkpoints of a training run: written atomically, read back only with
``weights_only=True``, and resumed only by the run that wrote them (same settings, training
code, data and pretrained weights). Anything else is logged and the run starts afresh."""

from __future__ import annotations

import os
from pathlib import Path

import torch

FORMAT = 2  # bump when the fields below change: an older checkpoint is then not resumed


def save(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a kill mid-write leaves the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load(path: Path, resume_key: dict, log) -> dict | None:
    """The checkpoint at ``path`` if it belongs to ``resume_key``, else None (with the reason logged).

    Read onto the CPU whatever device wrote it: generator states must stay CPU byte tensors
    (mapped to CUDA, every resume on a GPU failed), and the trainer moves weights and
    optimizer state to its own device when it loads them.

    An unreadable file (truncated, corrupt, or holding anything but tensors and plain data)
    is moved aside to ``<path>.corrupt`` so the evidence is kept and the run starts afresh.
    """
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is handled the same way
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        log(f"checkpoint {path} is unreadable ({type(exc).__name__}: {reason}); moved to {aside}; starting afresh")
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        log(f"checkpoint {path} has another format than {FORMAT}; starting afresh")
        return None
    stored = state.get("resume_key", {})
    changed = sorted(k for k in resume_key if stored.get(k) != resume_key[k])
    if changed:
        log(f"checkpoint {path} was written with other {', '.join(changed)}; starting afresh")
        return None
    return state
