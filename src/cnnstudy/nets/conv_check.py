"""The correctness gate and the timing table of the hand-written convolutions.

``CASES`` are seed 000's test suite (all of it, dilation and grouping included) plus
padding, rectangular kernels and gradients; :func:`run_cases` checks every implementation
against ``F.conv2d`` and autograd and returns a tidy table. :func:`time_layers` times
forward and backward of each implementation beside ``F.conv2d`` in the same run.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from cnnstudy.nets.conv import conv2d_im2col, conv2d_im2col_backward, conv2d_naive, conv2d_unfold
from cnnstudy.nets.conv_cases import CASES, IMPLEMENTATIONS, SOBEL_CASE, Case

SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def tolerance(dtype) -> float:
    return 1e-9 if dtype == np.float64 else 1e-4


def make_inputs(case: Case, seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case.x).astype(dtype)
    w = rng.standard_normal(case.w).astype(dtype) / np.sqrt(np.prod(case.w[1:]))
    b = {"random": rng.standard_normal(case.w[0]).astype(dtype), "zero": np.zeros(case.w[0], dtype), "none": None}[
        case.bias
    ]
    return x, w, b


def autograd_run(fn, x, w, b, kwargs, seed: int, *, grad_out=None):
    """Output, output gradient (``grad_out``, else drawn from ``seed``) and (dx, dw, db) of a
    torch conv function."""
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if b is not None else None
    y = fn(xt, wt, bt, **kwargs)
    g = grad_out if grad_out is not None else np.random.default_rng(seed).standard_normal(tuple(y.shape))
    y.backward(torch.tensor(g))
    return y.detach().numpy(), g, xt.grad.numpy(), wt.grad.numpy(), (bt.grad.numpy() if bt is not None else None)


def _err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if a is not None else 0.0


QUANTITIES = ("output", "grad_input", "grad_weight", "grad_bias")


def _error_columns(pairs: dict) -> dict:
    """Per quantity (ours, torch's): the max absolute difference, and its L2 norm as seed 004
    measured it (``np.linalg.norm`` of the difference); NaN where a quantity is not computed."""
    out = {}
    for q in QUANTITIES:
        ours, ref = pairs.get(q) or (None, None)
        diff = None if ours is None else np.asarray(ours) - np.asarray(ref)
        out[f"max_abs_error_{q}"] = np.nan if diff is None else float(np.max(np.abs(diff), initial=0.0))
        out[f"l2_error_{q}"] = np.nan if diff is None else float(np.linalg.norm(diff.ravel()))
    return out


def _computed(x, w, b, case: Case, impl: str, g) -> dict:
    """(output, dx, dw, db) of ``impl`` on one case; the naive loops compute the output only."""
    if impl == "naive":
        return {"output": conv2d_naive(x, w, b, **case.kwargs)}
    if impl == "im2col":
        y, cache = conv2d_im2col(x, w, b, **case.kwargs, return_cache=True)
        dx, dw, db = conv2d_im2col_backward(g, cache)
    elif impl == "unfold":
        y, _, dx, dw, db = autograd_run(conv2d_unfold, x, w, b, case.kwargs, 0, grad_out=g)  # the same output gradient
    else:
        raise ValueError(f"unknown implementation {impl!r}; known: {', '.join(IMPLEMENTATIONS)}")
    return {"output": y, "grad_input": dx, "grad_weight": dw, "grad_bias": db if b is not None else None}


def check_case(case: Case, impl: str, seed: int = 0) -> dict:
    x, w, b = make_inputs(case, seed)
    y_ref, g, dx_ref, dw_ref, db_ref = autograd_run(F.conv2d, x, w, b, case.kwargs, seed + 1)
    refs = {"output": y_ref, "grad_input": dx_ref, "grad_weight": dw_ref, "grad_bias": db_ref}
    ours = _computed(x, w, b, case, impl, g)
    errs = _error_columns({q: (v, refs[q]) for q, v in ours.items() if v is not None})
    tol = tolerance(x.dtype)
    ok = all(np.isnan(v) or v <= tol for k, v in errs.items() if k.startswith("max_abs"))
    return {"case": case.name, "implementation": impl, **errs, "tolerance": tol, "passed": ok}


def sobel_case(impl: str) -> dict:
    """Known-filter test: Sobel-x on a vertical step edge gives 4*step at the edge, 0 elsewhere."""
    img = np.zeros((1, 1, 12, 12))
    img[..., 6:] = 1.0
    w = SOBEL_X[None, None]
    expected = np.zeros((1, 1, 10, 10))
    expected[..., 4:6] = 4.0  # windows straddling the step see sum of the right column (1+2+1)
    if impl == "naive":
        y = conv2d_naive(img, w)
    elif impl == "im2col":
        y = conv2d_im2col(img, w)
    else:
        y = conv2d_unfold(torch.tensor(img), torch.tensor(w)).numpy()
    errs = _error_columns({"output": (y, expected)})
    torch_err = _err(F.conv2d(torch.tensor(img), torch.tensor(w)).numpy(), expected)
    tol = tolerance(np.float64)
    passed = errs["max_abs_error_output"] <= tol and torch_err <= tol
    return {"case": SOBEL_CASE, "implementation": impl, **errs, "tolerance": tol, "passed": passed}


def run_cases(impls=IMPLEMENTATIONS, cases=CASES, seed: int = 0) -> pd.DataFrame:
    rows = [check_case(c, i, seed) for c in cases for i in impls] + [sobel_case(i) for i in impls]
    return pd.DataFrame(rows)


class ConvGateError(RuntimeError):
    """A hand-written convolution disagrees with torch: training must not start."""


def gate(table: pd.DataFrame) -> None:
    """Raise naming every failing (case, implementation) of a :func:`run_cases` table."""
    failed = table[~table.passed.astype(bool)]
    if len(failed):
        names = ", ".join(f"{c} ({i})" for c, i in zip(failed.case, failed.implementation))
        raise ConvGateError(f"convolution gate failed, training will not start: {names}")


def _interleaved_times(fns: dict, repeats: int, rounds: int = 3) -> dict:
    """Per round, the median seconds of ``repeats`` back-to-back calls of each function.

    Calls stay in warm loops (as in training: one implementation at a time; alternating
    single calls would charge each library the wake-up of its thread pool), while the rounds
    alternate the implementations so a drifting (virtual) machine affects all of them alike.
    """
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            fn()  # warm-up (allocations, thread pools)
            block = []
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                block.append(time.perf_counter() - t)
            times[name].append(np.median(block))
    return {name: np.asarray(v) for name, v in times.items()}


def time_layer(shape, repeats: int = 5, impls=("im2col", "unfold", "torch"), seed: int = 0) -> list[dict]:
    """Median forward and forward+backward seconds of each implementation on one layer shape,
    and the median over rounds of its ratio to torch's time in the same round.

    ``shape`` is [N, C_in, H, W, C_out, k, stride, padding]; float32 like training.
    """
    n, c, h, w_, co, k, s, p = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w_)).astype(np.float32)
    w = (rng.standard_normal((co, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    b = rng.standard_normal(co).astype(np.float32)
    kw = {"stride": s, "padding": p}
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    g = torch.randn_like(F.conv2d(xt, wt, bt, **kw))
    gn = g.numpy()

    def torch_fb(fn):
        def run():
            for t in (xt, wt, bt):
                t.grad = None
            fn(xt, wt, bt, **kw).backward(g)

        return run

    fns = {
        "torch": (lambda: F.conv2d(xt, wt, bt, **kw), torch_fb(F.conv2d)),
        "unfold": (lambda: conv2d_unfold(xt, wt, bt, **kw), torch_fb(conv2d_unfold)),
        "im2col": (
            lambda: conv2d_im2col(x, w, b, **kw),
            lambda: conv2d_im2col_backward(gn, conv2d_im2col(x, w, b, **kw, return_cache=True)[1]),
        ),
        "naive": (lambda: conv2d_naive(x, w, b, **kw), None),
    }
    impls = list(dict.fromkeys([*impls, "torch"]))
    with torch.no_grad():
        tf = _interleaved_times({i: fns[i][0] for i in impls}, repeats)
    tfb = _interleaved_times({i: fns[i][1] for i in impls if fns[i][1]}, repeats)
    rows = []
    for impl in impls:
        fb = tfb.get(impl)
        rows.append(
            {
                "implementation": impl,
                "shape": "x".join(map(str, shape)),
                "forward_s": float(np.median(tf[impl])),
                "forward_backward_s": float(np.median(fb)) if fb is not None else np.nan,
                "forward_ratio": float(np.median(tf[impl] / tf["torch"])),
                "forward_backward_ratio": float(np.median(fb / tfb["torch"])) if fb is not None else np.nan,
            }
        )
    return rows


def time_layers(shapes, repeats: int = 5, naive_shape=(1, 3, 16, 16, 4, 3, 1, 0)) -> pd.DataFrame:
    """Timing table with ratios to F.conv2d measured in the same run; naive on a small shape only."""
    rows = []
    for shape in shapes:
        rows += time_layer(shape, repeats)
    rows += time_layer(naive_shape, repeats=1, impls=("naive", "im2col", "unfold", "torch"))
    df = pd.DataFrame(rows)
    df["backward_s"] = df.forward_backward_s - df.forward_s  # medians of separate timings: an estimate
    return df
