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
    ``color_jitter``: {brightness, contrast, saturation, hue} as torchvision's ColorJitter.
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
    if cfg.get("color_jitter"):
        x = color_jitter(x, cfg["color_jitter"], gen)
    return x


# ITU-R 601-2 luma, as torchvision's rgb_to_grayscale
_LUMA = (0.2989, 0.587, 0.114)


def _grayscale(x):
    if x.shape[1] == 1:
        return x
    return _LUMA[0] * x[:, :1] + _LUMA[1] * x[:, 1:2] + _LUMA[2] * x[:, 2:3]


def _blend(x, other, factor):
    return (factor * x + (1 - factor) * other).clamp(0, 1)


def _brightness(x, f):
    return (x * f).clamp(0, 1)


def _contrast(x, f):
    return _blend(x, _grayscale(x).mean(dim=(1, 2, 3), keepdim=True), f)


def _saturation(x, f):
    return x if x.shape[1] == 1 else _blend(x, _grayscale(x), f)


def _hue(x, shift):
    """Rotate the hue by ``shift`` (fraction of a turn) per sample, via HSV as torchvision does."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    cr = maxc - minc
    s = cr / torch.where(maxc == 0, torch.ones_like(maxc), maxc)
    crd = torch.where(cr == 0, torch.ones_like(cr), cr)
    rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.fmod(h / 6.0 + 1.0, 1.0)
    h = torch.remainder(h + shift.view(-1, 1, 1), 1.0)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int64) % 6
    v = maxc
    p, q, t = (v * (1 - s)).clamp(0, 1), (v * (1 - s * f)).clamp(0, 1), (v * (1 - s * (1 - f))).clamp(0, 1)
    table = torch.stack([torch.stack(c, 1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table.gather(0, i.view(1, -1, 1, *i.shape[1:]).expand(1, -1, 3, -1, -1)).squeeze(0)


# torchvision's ColorJitter: each enabled op with a factor drawn per image, in a random order per image
_JITTER = {"brightness": _brightness, "contrast": _contrast, "saturation": _saturation, "hue": _hue}


def color_jitter(x: torch.Tensor, cj: dict, gen: torch.Generator) -> torch.Tensor:
    """torchvision ``ColorJitter`` semantics, batched: per image, brightness, contrast and
    saturation factors uniform in [max(0, 1 - k), 1 + k], a hue shift uniform in [-k, k],
    applied in a random order, clamped to [0, 1] after each op; contrast blends with the
    mean of the grayscale image, saturation with the grayscale image."""
    n, dev = len(x), x.device
    ops = [name for name in _JITTER if cj.get(name)]
    factors = {}
    for name in ops:
        k = float(cj[name])
        lo, hi = (-k, k) if name == "hue" else (max(0.0, 1 - k), 1 + k)
        factors[name] = _uniform(n, lo, hi, gen, dev)
    order = torch.argsort(torch.rand(n, len(ops), generator=gen, device=dev), dim=1)
    for position in range(len(ops)):
        for index, name in enumerate(ops):
            f = factors[name] if name == "hue" else factors[name].view(n, 1, 1, 1)
            chosen = (order[:, position] == index).view(n, 1, 1, 1)
            x = torch.where(chosen, _JITTER[name](x, f), x)
    return x
