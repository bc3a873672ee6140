"""Batched data augmentation as tensor ops on the device, with per-sample randomness.

All geometric switches (horizontal flip, rotation, affine, random crop with padding) are
folded into one affine matrix per sample and applied by a single ``grid_sample``; colour
jitter is per-sample arithmetic. Randomness comes from an explicit generator so a run and
its resumed continuation draw the same numbers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KEYS = {"hflip", "color_jitter", "rotation", "affine", "crop_padding"}


class AugmentConfigError(ValueError):
    pass


def validate(cfg: dict | None) -> dict:
    cfg = dict(cfg or {})
    unknown = set(cfg) - KEYS
    if unknown:
        raise AugmentConfigError(f"unknown augmentation(s) {sorted(unknown)}; known: {sorted(KEYS)}")
    return cfg


def _uniform(n, lo, hi, gen, device):
    return torch.rand(n, generator=gen, device=device) * (hi - lo) + lo


def augment_batch(x: torch.Tensor, cfg: dict, gen: torch.Generator) -> torch.Tensor:
    """Augment a float batch (N, C, H, W) in [0, 1]; ``cfg`` holds the enabled switches.

    ``hflip``: bool; ``rotation``: max degrees; ``affine``: {translate: frac, scale: [lo, hi],
    shear: degrees}; ``crop_padding``: pixels of zero padding for random crops;
    ``color_jitter``: {brightness, contrast, saturation} strengths.
    """
    if not cfg:
        return x
    n, c, h, w = x.shape
    dev = x.device
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    geometric = False
    if cfg.get("rotation") or cfg.get("affine"):
        geometric = True
        aff = cfg.get("affine") or {}
        ang = _uniform(n, -1, 1, gen, dev) * math.radians(float(cfg.get("rotation") or 0))
        lo, hi = aff.get("scale", [1.0, 1.0])
        s = _uniform(n, lo, hi, gen, dev)
        sh = _uniform(n, -1, 1, gen, dev) * math.radians(float(aff.get("shear", 0)))
        cos, sin = torch.cos(ang), torch.sin(ang)
        theta[:, 0, 0], theta[:, 0, 1] = cos / s, (-sin + torch.tan(sh) * cos) / s
        theta[:, 1, 0], theta[:, 1, 1] = sin / s, cos / s
        t = float(aff.get("translate", 0))
        theta[:, :, 2] = _uniform(2 * n, -t, t, gen, dev).view(n, 2) * 2
    if cfg.get("crop_padding"):
        geometric = True
        p = int(cfg["crop_padding"])
        # integer shifts in [-p, p] pixels, in normalized coordinates
        shift = torch.randint(-p, p + 1, (n, 2), generator=gen, device=dev).float()
        theta[:, 0, 2] += shift[:, 0] * 2 / w
        theta[:, 1, 2] += shift[:, 1] * 2 / h
    if cfg.get("hflip"):
        geometric = True
        flip = torch.rand(n, generator=gen, device=dev) < 0.5
        theta[:, 0, :2] *= torch.where(flip, -1.0, 1.0).unsqueeze(1)
    if geometric:
        grid = F.affine_grid(theta, (n, c, h, w), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    cj = cfg.get("color_jitter")
    if cj:
        shape = (n, 1, 1, 1)
        if cj.get("brightness"):
            b = float(cj["brightness"])
            x = x * _uniform(n, 1 - b, 1 + b, gen, dev).view(shape)
        if cj.get("contrast"):
            k = float(cj["contrast"])
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * _uniform(n, 1 - k, 1 + k, gen, dev).view(shape) + mean
        if cj.get("saturation") and c == 3:
            k = float(cj["saturation"])
            gray = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
            x = (x - gray) * _uniform(n, 1 - k, 1 + k, gen, dev).view(shape) + gray
        x = x.clamp(0, 1)
    return x
