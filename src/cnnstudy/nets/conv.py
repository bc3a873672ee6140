"""Three hand-written 2-D convolutions with one signature, checked against ``F.conv2d``.

1. :func:`conv2d_naive` - loops over groups and output pixels in NumPy (the reference).
2. :func:`conv2d_im2col` / :func:`conv2d_im2col_backward` - a strided view, one im2col copy
   and one matmul per group, with the backward pass (dL/dX, dL/dW, dL/db) by hand.
3. :class:`Conv2dFunction` - a ``torch.autograd.Function`` on unfold/fold with its own
   backward (:func:`fold`, equal to ``F.fold``), and :class:`Conv2d`, a drop-in
   ``nn.Conv2d`` (same parameters and init).

All take (input, weight, bias, stride, padding, dilation, groups) with cross-correlation
semantics like torch; padding is an int, a pair, ``"valid"`` or ``"same"`` (asymmetric for
even kernels, exactly as torch pads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import as_strided
from torch import nn


class ConvShapeError(ValueError):
    """The convolution cannot be computed for these shapes and settings."""


def _pair(v, name):
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(a, (int, np.integer)) for a in v):
        return int(v[0]), int(v[1])
    raise ConvShapeError(f"{name} must be an int or a pair of ints, got {v!r}")


@dataclass(frozen=True)
class ConvGeometry:
    n: int
    c_in: int
    h: int
    w: int
    c_out: int
    kh: int
    kw: int
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]  # top, bottom, left, right
    dilation: tuple[int, int]
    groups: int
    ho: int
    wo: int


def geometry(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1) -> ConvGeometry:
    """Validate the settings and compute the output size; raise ConvShapeError if impossible."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ConvShapeError(f"input must be NCHW and weight OIHW, got {tuple(x_shape)} and {tuple(w_shape)}")
    n, c_in, h, w = x_shape
    c_out, c_in_g, kh, kw = w_shape
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if min(stride) < 1 or min(dilation) < 1:
        raise ConvShapeError(f"stride and dilation must be >= 1, got {stride} and {dilation}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ConvShapeError(f"groups must be a positive int, got {groups!r}")
    if c_in % groups or c_out % groups:
        raise ConvShapeError(
            f"input channels ({c_in}) and output channels ({c_out}) must both be divisible by groups ({groups})"
        )
    if c_in_g != c_in // groups:
        raise ConvShapeError(
            f"weight expects {c_in_g} input channels per group but input has {c_in} channels / {groups} groups"
        )
    eff_h, eff_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if padding == "valid":
        pad = (0, 0, 0, 0)
    elif padding == "same":
        if stride != (1, 1):
            raise ConvShapeError("padding='same' needs stride 1 (as in torch)")
        th, tw = eff_h - 1, eff_w - 1
        pad = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    else:
        ph, pw = _pair(padding, "padding")
        if ph < 0 or pw < 0:
            raise ConvShapeError(f"padding must be >= 0, got {padding!r}")
        pad = (ph, ph, pw, pw)
    hp, wp = h + pad[0] + pad[1], w + pad[2] + pad[3]
    if eff_h > hp or eff_w > wp:
        raise ConvShapeError(
            f"kernel {kh}x{kw} with dilation {dilation} spans {eff_h}x{eff_w}, larger than the padded input {hp}x{wp}"
        )
    ho, wo = (hp - eff_h) // stride[0] + 1, (wp - eff_w) // stride[1] + 1
    return ConvGeometry(n, c_in, h, w, c_out, kh, kw, stride, pad, dilation, groups, ho, wo)


def _pad_np(x, g: ConvGeometry):
    top, bottom, left, right = g.pad
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) if any(g.pad) else x


# ----------------------------------------------------------------------------- 1. naive
def conv2d_naive(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Reference: one inner product per (group, output pixel), in plain loops."""
    g = geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    xp = _pad_np(np.asarray(x), g)
    out = np.zeros((g.n, g.c_out, g.ho, g.wo), dtype=np.result_type(x, weight))
    cig, cog = g.c_in // g.groups, g.c_out // g.groups
    (sh, sw), (dh, dw) = g.stride, g.dilation
    for grp in range(g.groups):
        xg = xp[:, grp * cig : (grp + 1) * cig]
        wg = weight[grp * cog : (grp + 1) * cog]
        for i in range(g.ho):
            for j in range(g.wo):
                patch = xg[:, :, i * sh : i * sh + dh * (g.kh - 1) + 1 : dh, j * sw : j * sw + dw * (g.kw - 1) + 1 : dw]
                out[:, grp * cog : (grp + 1) * cog, i, j] = np.tensordot(patch, wg, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += np.asarray(bias)[None, :, None, None]
    return out


# ----------------------------------------------------------------------------- 2. im2col
def _windows(xp, g: ConvGeometry):
    """Strided view (C, kh, kw, N, Ho, Wo) of every receptive field; no copy.

    Channel and kernel offsets lead and output pixels trail, so the one im2col copy moves
    runs along the output width (contiguous at stride 1) and the matmul output is already
    channel-major: about three times faster than the pixel-major layout here.
    """
    sn, sc, sh_, sw_ = xp.strides
    shape = (g.c_in, g.kh, g.kw, g.n, g.ho, g.wo)
    strides = (sc, sh_ * g.dilation[0], sw_ * g.dilation[1], sn, sh_ * g.stride[0], sw_ * g.stride[1])
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def conv2d_im2col(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1, return_cache=False):
    """Vectorized forward: per group one im2col copy of the strided view and one matmul."""
    g = geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    xp = np.ascontiguousarray(_pad_np(np.asarray(x), g))
    win = _windows(xp, g)
    cig, cog = g.c_in // g.groups, g.c_out // g.groups
    out = np.empty((g.c_out, g.n * g.ho * g.wo), dtype=np.result_type(x, weight))
    cols = []
    for grp in range(g.groups):
        col = win[grp * cig : (grp + 1) * cig].reshape(cig * g.kh * g.kw, -1)  # the copy
        np.matmul(weight[grp * cog : (grp + 1) * cog].reshape(cog, -1), col, out=out[grp * cog : (grp + 1) * cog])
        cols.append(col)
    if bias is not None:
        out += np.asarray(bias)[:, None]
    out = out.reshape(g.c_out, g.n, g.ho, g.wo).transpose(1, 0, 2, 3)
    return (out, (cols, np.asarray(weight), g)) if return_cache else out


def conv2d_im2col_backward(grad_out, cache):
    """Return (dL/dX, dL/dW, dL/db) for the forward pass that produced ``cache``."""
    cols, weight, g = cache
    cig, cog = g.c_in // g.groups, g.c_out // g.groups
    dy = np.ascontiguousarray(np.asarray(grad_out).transpose(1, 0, 2, 3)).reshape(g.c_out, -1)
    db = dy.sum(1)
    dw = np.empty_like(weight)
    hp, wp = g.h + g.pad[0] + g.pad[1], g.w + g.pad[2] + g.pad[3]
    dxp = np.zeros((g.c_in, g.n, hp, wp), dtype=dy.dtype)  # channel-major like the columns
    (sh, sw), (dh, dw_) = g.stride, g.dilation
    for grp in range(g.groups):
        dyg = dy[grp * cog : (grp + 1) * cog]
        wmat = weight[grp * cog : (grp + 1) * cog].reshape(cog, -1)
        dw[grp * cog : (grp + 1) * cog] = (dyg @ cols[grp].T).reshape(cog, cig, g.kh, g.kw)
        dcol = (wmat.T @ dyg).reshape(cig, g.kh, g.kw, g.n, g.ho, g.wo)
        # col2im: scatter-add each kernel offset back with one strided slice (kh*kw adds)
        for i in range(g.kh):
            for j in range(g.kw):
                dxp[
                    grp * cig : (grp + 1) * cig,
                    :,
                    i * dh : i * dh + sh * (g.ho - 1) + 1 : sh,
                    j * dw_ : j * dw_ + sw * (g.wo - 1) + 1 : sw,
                ] += dcol[:, i, j]
    top, bottom, left, right = g.pad
    dx = dxp[:, :, top : hp - bottom, left : wp - right].transpose(1, 0, 2, 3)
    return dx, dw, db


# ----------------------------------------------------------------------------- 3. unfold/fold
def fold(cols: torch.Tensor, g: ConvGeometry) -> torch.Tensor:
    """``F.fold`` of unfolded columns (N, C*kh*kw, Ho*Wo) back onto the padded input, written as
    one strided add per kernel offset: the same sums as ``F.fold``, two to four times faster
    here, which is what brings the Function's backward near torch's."""
    (sh, sw), (dh, dw) = g.stride, g.dilation
    hp, wp = g.h + g.pad[0] + g.pad[1], g.w + g.pad[2] + g.pad[3]
    d = cols.view(cols.shape[0], g.c_in, g.kh, g.kw, g.ho, g.wo)
    out = cols.new_zeros(cols.shape[0], g.c_in, hp, wp)
    for i in range(g.kh):
        for j in range(g.kw):
            out[:, :, i * dh : i * dh + sh * (g.ho - 1) + 1 : sh, j * dw : j * dw + sw * (g.wo - 1) + 1 : sw] += d[
                :, :, i, j
            ]
    return out


class Conv2dFunction(torch.autograd.Function):
    """Convolution as unfold + batched matmul, with a hand-written backward via fold.

    Under autocast (bf16 on CUDA or CPU) it computes in fp32: its inputs are cast to fp32 and
    its backward runs under the forward's autocast state, so the hand-written matmuls never
    mix dtypes (a bias-free layer's backward did before). One decorator per device type.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(ctx, x, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        g = geometry(x.shape, weight.shape, stride, padding, dilation, groups)
        xp = F.pad(x, (g.pad[2], g.pad[3], g.pad[0], g.pad[1])) if any(g.pad) else x
        cols = F.unfold(xp, (g.kh, g.kw), dilation=g.dilation, stride=g.stride)  # N, C*kh*kw, L
        cols = cols.view(g.n, g.groups, -1, g.ho * g.wo)
        wmat = weight.reshape(g.groups, g.c_out // g.groups, -1)
        out = torch.matmul(wmat, cols).reshape(g.n, g.c_out, g.ho, g.wo)
        if bias is not None:
            out = out + bias.view(1, -1, 1, 1)
        ctx.save_for_backward(cols, weight)
        ctx.geom, ctx.has_bias = g, bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    @torch.amp.custom_bwd(device_type="cpu")
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_out):
        cols, weight = ctx.saved_tensors
        g = ctx.geom
        dy = grad_out.reshape(g.n, g.groups, g.c_out // g.groups, g.ho * g.wo)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            wmat = weight.reshape(g.groups, g.c_out // g.groups, -1)
            dcols = torch.matmul(wmat.transpose(1, 2), dy).reshape(g.n, -1, g.ho * g.wo)
            dxp = fold(dcols, g)
            dx = dxp[:, :, g.pad[0] : dxp.shape[2] - g.pad[1], g.pad[2] : dxp.shape[3] - g.pad[3]]
        if ctx.needs_input_grad[1]:
            dw = torch.matmul(dy, cols.transpose(2, 3)).sum(0).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = grad_out.sum((0, 2, 3))
        return dx, dw, db, None, None, None, None


def conv2d_unfold(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
    return Conv2dFunction.apply(x, weight, bias, stride, padding, dilation, groups)


class Conv2d(nn.Conv2d):
    """Drop-in ``nn.Conv2d`` (same parameters, init and state dict) running :class:`Conv2dFunction`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros":
            raise ConvShapeError(f"only padding_mode='zeros' is implemented, got {self.padding_mode!r}")

    def forward(self, x):
        return conv2d_unfold(
            x,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
        )


IMPLEMENTATIONS = {"naive": conv2d_naive, "im2col": conv2d_im2col, "unfold": conv2d_unfold}
