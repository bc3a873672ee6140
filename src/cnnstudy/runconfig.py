"""The typed settings of one training run (what ``config.run_config`` resolves)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunConfig:
    """The resolved settings of one (study, run, seed) training job.

    Built once by :func:`run_config` from the validated config: the study's ``training``
    block overridden by the run's own keys. Defaults live in the schema, not here: a field
    with a default here is an optional setting whose absence means "not set" (None, empty).
    """

    study: str
    run: str
    seed: int
    dataset: str
    arch: str
    options: dict
    conv_impl: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    eval_every_steps: int
    eval_subset: int
    eval_batch_size: int
    device: str
    deterministic: bool
    precision: str  # auto: bf16 autocast on CUDA, fp32 elsewhere
    weight_decay: float
    betas: tuple | None = None  # None: the optimizer's own default
    momentum: float | None = None
    scheduler: dict | None = None
    augment: dict = field(default_factory=dict)
    resize: int | None = None  # the fixed-size view of variable-resolution data
    weights: str | None = None  # downloaded pretrained weights

    def digest(self) -> str:
        """Short sha256 of every setting: a checkpoint resumes only the same settings."""
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:16]
