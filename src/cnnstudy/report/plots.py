"""Figures of the report (matplotlib + seaborn). Each function writes one PNG.

seaborn is imported by the figures that draw with it: its import (scipy.stats comes with it)
is a second of every figure job, and the dataset card, confusion, attribution, mosaic, claim and
projection figures need none of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # headless: cluster nodes and CI have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from cnnstudy.escape import plain_matplotlib_text  # noqa: E402
from cnnstudy.judging.statistics import mean_interval  # noqa: E402
from cnnstudy.judging.tables import per_class_accuracy, study_metric  # noqa: E402
from cnnstudy.report.pages import VERDICT_COLORS  # noqa: E402

if TYPE_CHECKING:  # figures take tensors but never import torch: a figure job starts 1.6 s sooner
    import torch

DPI = 110
plain_matplotlib_text()  # titles are the config's text: a "$" in one is shown, not parsed as mathtext


def _log_scale(axis) -> None:
    """A log axis labelled in plain numbers (2, 1, 0.6): matplotlib's default labels are
    mathtext, which is off here (config text is shown as written), so they would print raw."""
    if axis is axis.axes.xaxis:
        axis.axes.set_xscale("log")
    else:
        axis.axes.set_yscale("log")
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))

    def minor(v, _):  # every minor tick within a decade; over several, only 2s and 5s (no pile-up)
        low, high = sorted(axis.get_view_interval())
        several = low <= 0 or high / low > 10
        return f"{v:g}" if not several or round(v / 10 ** np.floor(np.log10(v)), 6) in (2, 5) else ""

    axis.set_minor_formatter(FuncFormatter(minor))


def _legend_beside(ax, title: str) -> None:
    """One legend right of the axes: ten runs' entries inside would hide the data."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def sample_grid(data: dict, path, per_class: int = 5, seed: int = 0, split: str = "train"):
    """Rows are classes, columns random samples of that class."""
    s = data["splits"][split]
    classes = data["classes"]
    rng = np.random.default_rng(seed)
    labels = s["y"].numpy()
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.4 * per_class, 1.4 * len(classes)), squeeze=False)
    for row, name in enumerate(classes):
        idx = np.flatnonzero(labels == row)
        pick = rng.permutation(idx)[:per_class]
        for col in range(per_class):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(pick):
                img = s["x"][pick[col]].permute(1, 2, 0).numpy()
                ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
            if col == 0:
                ax.set_title(name, loc="left", fontsize=8)
    _save(fig, path)


def class_counts(counts: pd.DataFrame, path, title: str = ""):
    """Images per class, a bar per split beside each other, classes and splits in their order."""
    table = counts.pivot_table(index="class", columns="split", values="count", aggfunc="sum", sort=False)
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(table) + 2), 3))
    table.plot.bar(ax=ax, width=0.8, rot=45, legend=False)
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")  # each name ends at its bars
    _legend_beside(ax, "split")  # inside, "best" still sat on a bar of ten classes' thirty
    ax.set(title=f"{title}: images per class and split", xlabel="class", ylabel="count")
    _save(fig, path)


def learning_curves(curves: pd.DataFrame, path, scope: str = "epoch", title: str = ""):
    """Loss and accuracy (columns) of train and val (rows); models overlaid, mean over seeds
    with the seeds' range. One split per panel: ten runs in two line styles each were a tangle."""
    c = curves[(curves.scope == scope) & curves.split.isin(["train", "val"])]  # test is scored, never shown choosing
    x = "epoch" if scope == "epoch" else "step"
    models = list(dict.fromkeys(c.model))  # one colour per model in every panel
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 7), sharex=True, squeeze=False)
    for row, split in zip(axes, ("train", "val")):
        for ax, metric in zip(row, ("loss", "accuracy")):
            _curve_panel(ax, c[c.split == split], x, metric, models)
            ax.set_title(f"{split} {metric} per {x}", fontsize=10)
    for ax in axes[1]:
        ax.set_xlabel("epoch" if scope == "epoch" else "training step (batches)")
    if len(c):
        _legend_beside(axes[0, 1], "model")
    fig.suptitle(title, fontsize=11)
    _save(fig, path)


def _curve_panel(ax, c: pd.DataFrame, x: str, metric: str, models: list[str]):
    import seaborn as sns

    if len(c):
        marker = "o" if x == "epoch" else None
        sns.lineplot(data=c, x=x, y=metric, hue="model", hue_order=models, errorbar=("pi", 100), marker=marker, ax=ax)
        ax.get_legend().remove()  # one legend, beside the plots
    ax.set_ylabel("cross-entropy loss (log scale)" if metric == "loss" else "accuracy (fraction correct)")
    if metric == "loss":
        _log_scale(ax.yaxis)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs and steps are whole numbers


def confusion_pair(confusion: pd.DataFrame, path, title: str = ""):
    """Heatmaps of the best epoch, rows true, columns predicted: one per split."""
    splits = [s for s in ("train", "val", "test") if s in set(confusion.split)]
    fig, axes = plt.subplots(1, max(1, len(splits)), figsize=(5.2 * max(1, len(splits)), 4.4), squeeze=False)
    for ax, split in zip(axes[0], splits):
        c = confusion[confusion.split == split]
        order = list(dict.fromkeys(c.true))
        m = c.pivot_table(index="true", columns="predicted", values="count", aggfunc="sum").reindex(
            index=order, columns=order
        )
        _heatmap(ax, m)
        if len(order) <= 10:
            _annotate_counts(ax, m.to_numpy())
        acc = np.trace(m.values) / max(1, m.values.sum())
        ax.set_title(f"{split}: accuracy {acc:.3f}, {int(m.values.sum())} images")
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    if not splits:
        axes[0, 0].text(0.5, 0.5, "no epoch finished", ha="center")
    fig.suptitle(title)
    _save(fig, path)


def _heatmap(ax, matrix: pd.DataFrame) -> None:
    """The cells as seaborn's heatmap colours and labels them (Blues over the matrix's range,
    the first row on top, a label at each cell's centre), without the whole-figure draw it makes
    per heatmap to see whether labels overlap: here labels of more than 3 characters stand upright
    under the columns and lie flat beside the rows."""
    values = np.ma.masked_invalid(matrix.to_numpy(dtype=float))
    ax.pcolormesh(values, cmap="Blues", vmin=values.min(), vmax=values.max())
    rows, cols = values.shape
    ax.set(xlim=(0, cols), ylim=(rows, 0))
    upright = max((len(str(c)) for c in matrix.columns), default=0) > 3
    ax.set_xticks(np.arange(cols) + 0.5, [str(c) for c in matrix.columns], rotation=90 if upright else 0)
    ax.set_yticks(np.arange(rows) + 0.5, [str(r) for r in matrix.index], rotation=0, va="center")
    for spine in ax.spines.values():
        spine.set_visible(False)


def _luminance(rgba) -> float:
    """Relative luminance (WCAG 2), the measure seaborn's annot picks the text colour by."""
    rgb = np.asarray(rgba)[:3]
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ [0.2126, 0.7152, 0.0722])


def _annotate_counts(ax, counts: np.ndarray):
    """The counts in their cells, dark on light and light on dark, as seaborn's annot writes them."""
    mesh = ax.collections[0]  # the heatmap's cells, with its colormap and its norm
    for (row, col), count in np.ndenumerate(counts):
        dark = _luminance(mesh.to_rgba(count)) <= 0.408
        ax.text(col + 0.5, row + 0.5, f"{count:d}", ha="center", va="center", color="w" if dark else ".15")


def per_class(confusion: pd.DataFrame, path, title: str = ""):
    import seaborn as sns

    pc = per_class_accuracy(confusion)
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * pc["class"].nunique() + 3), 3.6))
    if len(pc):
        # the seeds' range, not mean +- sd: a recall is within [0, 1], and so are its lines
        sns.barplot(data=pc, x="class", y="accuracy", hue="model", errorbar=("pi", 100), ax=ax)
        _legend_beside(ax, "model")
    ax.set_title("per-class validation recall of the best epoch (bars: mean; lines: range over seeds)", fontsize=10)
    fig.suptitle(title, fontsize=11)
    ax.set_ylabel("recall (fraction of the class correct)")
    ax.set_xlabel("true class")
    ax.tick_params(axis="x", rotation=45)
    _save(fig, path)


def conv_errors(cases: pd.DataFrame, path):
    import seaborn as sns

    cols = [c for c in cases.columns if c.startswith("max_abs_error_")]
    long = cases.melt(
        id_vars=["case", "implementation"], value_vars=cols, var_name="quantity", value_name="error"
    ).dropna()
    long["quantity"] = long.quantity.str.replace("max_abs_error_", "").str.replace("_", " ")
    # a log axis cannot show 0: exact zeros are drawn at the floor and said so in the title
    floor = 1e-18
    zeros = int((long.error == 0).sum())
    long["error"] = long.error.clip(lower=floor)
    g = sns.catplot(
        data=long,
        x="error",
        y="case",
        hue="implementation",
        col="quantity",
        kind="strip",
        height=6,
        aspect=0.55,
        log_scale=True,
    )
    for ax in g.axes.flat:
        ax.axvline(cases.tolerance.max(), color="red", lw=1, ls="--")
        _log_scale(ax.xaxis)
    g.set_axis_labels("max |ours - torch| (log scale)", "test case")
    g.figure.suptitle(
        f"max |error| against F.conv2d and autograd (red: tolerance; {zeros} exact zeros drawn at {floor:g})", y=1.02
    )
    g.savefig(path, dpi=DPI)
    plt.close(g.figure)


def shape_label(code: str) -> str:
    """``4x3x64x64x16x3x1x0`` -> ``4x3x64x64 -> 16, k3 s1 p0`` (input N x C x H x W, out channels, kernel)."""
    n, c, h, w, out, k, s, p = code.split("x")
    return f"{n}x{c}x{h}x{w} -> {out}, k{k} s{s} p{p}"


def conv_timing(timing: pd.DataFrame, path):
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    timing = timing.assign(layer=timing["shape"].map(shape_label))
    for ax, col, what in zip(axes, ("forward_ratio", "forward_backward_ratio"), ("forward", "forward + backward")):
        d = timing.dropna(subset=[col])
        sns.barplot(data=d, x="layer", y=col, hue="implementation", ax=ax)
        ax.axhline(1, color="k", lw=1)
        _log_scale(ax.yaxis)
        ax.set_title(f"{what}: time relative to F.conv2d (1 = as fast)", fontsize=10)
        ax.set_ylabel("time / F.conv2d time (log scale)")
        ax.set_xlabel("layer: input N x C x H x W -> output channels, kernel k, stride s, padding p")
        ax.tick_params(axis="x", rotation=30, labelsize=7)
    _save(fig, path)


def gradient_norms(grads: pd.DataFrame, path, title: str = ""):
    """Per-layer gradient norm against depth, early and late in training: vanishing gradients
    show as norms that shrink toward the input layers (small depth)."""
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    if len(grads):
        models = list(dict.fromkeys(grads.model))
        floor = _norm_floor(grads.grad_norm)
        step = grads.groupby(["model", "seed"]).step  # runs of different lengths: each its own last
        for ax, at, when in zip(axes, (step.transform("min"), step.transform("max")), ("first", "last")):
            g = grads[grads.step == at]
            below = int((g.grad_norm < floor).sum())
            g = g.assign(grad_norm=g.grad_norm.clip(lower=floor))
            sns.lineplot(data=g, x="depth", y="grad_norm", hue="model", hue_order=models, marker="o",
                         errorbar=("pi", 100), ax=ax, legend=when == "last")  # fmt: skip
            _log_scale(ax.yaxis)
            steps = sorted(set(g.step))
            at_steps = f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}-{steps[-1]}"
            clipped = f"\n{below} below {floor:g} (a dead layer's) drawn at {floor:g}" if below else ""
            ax.set_title(f"gradient norm per layer, each run's {when} record ({at_steps}){clipped}", fontsize=10)
            ax.set_xlabel("layer depth (0 = first layer)")
            ax.set_ylabel("L2 norm of the weight gradient (log scale)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _legend_beside(axes[1], "model")
    fig.suptitle(title, fontsize=11)
    _save(fig, path)


def _norm_floor(norms: pd.Series) -> float:
    """Where a log axis of gradient norms stops: three decades under the median. A layer that
    died (norm 0, or 1e-200) would otherwise stretch it over hundreds of decades."""
    positive = norms[norms > 0]
    return float(10 ** (np.floor(np.log10(positive.median())) - 3)) if len(positive) else 1e-12


def _tick_label(*lines: str, diverged: int = 0, collapsed: int = 0) -> str:
    """A run's tick label, its diverged (never a value in its mean) and collapsed (a value,
    judged with and without) seeds counted under its name, clear of the data and the chance line."""
    counts = [f"{k} {what}" for k, what in ((diverged, "diverged"), (collapsed, "collapsed")) if k]
    return "\n".join([*lines, *counts])


def _error_lengths(centre, low, high) -> np.ndarray:
    """Error-bar lengths below and above ``centre``: none where there is no interval, and never
    negative (five identical seeds give an interval whose back-transformed ends miss the mean
    by a rounding error, which matplotlib refuses)."""
    return np.clip(np.nan_to_num(np.vstack([centre - low, high - centre])), 0, None)


def _interval_bars(ax, table: pd.DataFrame, x, label: str, **style):
    """Means with their 95 % t intervals (a bare dot where n < 2 gives none)."""
    err = _error_lengths(table.ours_mean, table.ci_low, table.ci_high)
    ax.errorbar(x, table.ours_mean, yerr=err, fmt="o", capsize=4, label=label, **style)


def ablation(runs: pd.DataFrame, path, title: str = ""):
    """The study's headline metric per run: mean and 95 % t interval over completed seeds,
    single seeds as dots (red crosses: collapsed to chance); diverged seeds are marked and
    counted, never plotted as zeros."""
    metric = study_metric(runs)
    column = metric.column
    ok = runs[runs.status != "diverged"]
    models = list(ok.groupby("model")[column].mean().sort_values(ascending=False).index)
    models += sorted(set(runs.model) - set(models))  # runs that diverged on every seed
    table = pd.DataFrame([{"model": m, **_interval_columns(mean_interval(ok[ok.model == m][column]))} for m in models])
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(models) + 2), 4.4))
    x = np.arange(len(models))
    if len(table):
        _interval_bars(ax, table, x, "mean, 95% interval", color="tab:blue")
        labels = []
        for i, m in enumerate(models):
            seeds = ok[ok.model == m]
            gone = seeds.collapsed.astype(bool)
            ax.plot(np.full(int((~gone).sum()), i + 0.15), seeds[column][~gone], ".", color="grey", alpha=0.7)
            ax.plot(np.full(int(gone.sum()), i + 0.15), seeds[column][gone], "x", color="tab:red")
            diverged = int(((runs.model == m) & (runs.status == "diverged")).sum())
            labels.append(_tick_label(m, diverged=diverged, collapsed=int(gone.sum())))
        if ok.collapsed.astype(bool).any():
            ax.plot([], [], "x", color="tab:red", label="a seed collapsed to chance")
        ax.axhline(runs.chance_level.iloc[0], color="grey", ls="--", lw=1, label="chance")
        ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel("accuracy (fraction correct)")
    ax.set_ylim(0, 1.02)  # an interval from few seeds can reach past [0, 1]: accuracy cannot
    n = ok.groupby("model").seed.count()
    seeds = f"n = {n.min()}-{n.max()} seeds" if len(n) and n.min() < n.max() else f"n = {n.max()} seeds"
    seeds = seeds if len(n) else "no completed run"
    ax.set_title(f"{metric.label}: mean and 95% t interval over seeds ({seeds}); dots: single seeds", fontsize=9)
    fig.suptitle(title, fontsize=10)
    ax.legend(fontsize=8)
    _save(fig, path)


def _interval_columns(iv) -> dict:
    return {"ours_mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high, "n": iv.n}


def _reported_range(text: str) -> tuple[float, float]:
    """A report's number as written in vs_reported ("0.605" or "0.991-0.993")."""
    low, _, high = str(text).partition("-")
    return float(low), float(high or low)


def versus_reported(table: pd.DataFrame, path, title: str = ""):
    """Ours beside each number the report gives: where one run of ours falls (95 % prediction
    interval) and our mean's interval; the report's one run (or range) in red."""
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(table) + 2) + 3, 4.4))  # + the legend beside
    if len(table):
        x = np.arange(len(table))
        pi = _error_lengths(table.ours_mean, table.pi_low, table.pi_high)
        ax.errorbar(x - 0.1, table.ours_mean, yerr=pi, fmt="none", ecolor="tab:blue", alpha=0.35,
                    elinewidth=6, label="one run of ours: 95% prediction interval")  # fmt: skip
        _interval_bars(ax, table, x - 0.1, "our mean: 95% interval", color="tab:blue")
        for i, row in enumerate(table.itertuples()):
            low, high = _reported_range(row.reported)
            ax.plot([i + 0.1, i + 0.1], [low, high], "s-", color="tab:red", label="the report" if i == 0 else None)
        labels = [_tick_label(r.model, r.matched_metric, diverged=r.diverged) for r in table.itertuples()]
        ax.set_xticks(x, labels, rotation=30, ha="right")
        _legend_beside(ax, "")
        ax.set_title("ours on the record matching each report's metric (under each run: its name in the config)",
                     fontsize=9)  # fmt: skip
    else:
        ax.text(0.5, 0.5, "the report gives no numbers for this study", ha="center", transform=ax.transAxes)
    ax.set_ylabel("accuracy (fraction correct)")
    ax.set_ylim(0, 1.02)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def _forest(ax, tests: pd.DataFrame, xlabel: str):
    """One row per paired test: its mean difference and 95 % interval in its claim's verdict
    colour, the claimed side shaded, the boundary (0, or the margin) as a line."""
    y = np.arange(len(tests))[::-1]
    lo = np.nanmin([tests.ci_low.min(), tests["mean"].min(), tests.null.min() - tests.margin.max()])
    hi = np.nanmax([tests.ci_high.max(), tests["mean"].max(), tests.null.max() + tests.margin.max()])
    pad = 0.1 * (hi - lo) if hi > lo else 0.05
    lo, hi = lo - pad, hi + pad
    for yi, t in zip(y, tests.itertuples()):
        side = {"greater": (t.null, hi), "not_less": (t.null, hi), "less": (lo, t.null)}.get(
            t.direction, (-t.margin, t.margin)
        )
        ax.fill_betweenx([yi - 0.4, yi + 0.4], *side, color="tab:green", alpha=0.08, lw=0)
        for edge in (-t.margin, t.margin) if t.direction == "similar" else (t.null,):
            ax.plot([edge, edge], [yi - 0.45, yi + 0.45], color="k", lw=0.8)
        color = VERDICT_COLORS.get(t.verdict, "k")
        err = [[t.mean - t.ci_low], [t.ci_high - t.mean]] if np.isfinite(t.ci_low) else None
        ax.errorbar([t.mean], [yi], xerr=err, fmt="o", color=color, capsize=3)
    ax.set_yticks(y, [f"{t.claim}\n{t.label}" for t in tests.itertuples()], fontsize=7)
    ax.set_xlim(lo, hi)
    ax.set_xlabel(xlabel, fontsize=8)


def _numbers(ax, numbers: pd.DataFrame, verdicts: dict):
    y = np.arange(len(numbers))[::-1]
    for yi, r in zip(y, numbers.itertuples()):
        color = VERDICT_COLORS.get(verdicts.get(r.claim), "k")
        if np.isfinite(r.pi_low):
            ax.plot([r.pi_low, r.pi_high], [yi, yi], color=color, lw=6, alpha=0.35)
        ax.plot([r.ours_mean], [yi], "o", color=color)
        low, high = _reported_range(r.reported)
        ax.plot([low, high], [yi + 0.25, yi + 0.25], "|-", color="tab:red", ms=9)
    ax.set_yticks(y, [f"{r.claim} ({r.model})" for r in numbers.itertuples()], fontsize=7)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("accuracy; band: where one run of ours falls (95 %); red: the report", fontsize=8)


def claims_figure(tables: dict, path, title: str = ""):
    """A report's claims: paired effects (forest plots: accuracy and recall differences, and
    gradient-norm log ratios) and its numbers against where one run of ours falls; every
    mark in its claim's verdict colour."""
    tests, numbers, claims = tables["tests"], tables["reported"], tables["claims"]
    tests = tests[tests.n > 0]
    ratio = tests.unit == "log10 ratio"
    panels = [(p, d) for p, d in (("diff", tests[~ratio]), ("ratio", tests[ratio]), ("numbers", numbers)) if len(d)]
    heights = [max(1.2, 0.45 * len(d) + 0.6) for _, d in panels] or [1.2]
    fig, axes = plt.subplots(len(heights), 1, figsize=(11, sum(heights) + 1.2), squeeze=False,
                             gridspec_kw={"height_ratios": heights})  # fmt: skip
    verdicts = dict(zip(claims.claim, claims.verdict))
    for ax, (kind, data) in zip(axes[:, 0], panels):
        if kind == "numbers":
            _numbers(ax, data, verdicts)
        else:
            label = "log10 of the gradient-norm ratio" if kind == "ratio" else "paired difference (accuracy or recall)"
            _forest(ax, data, f"{label}: mean and 95 % interval over seeds; shaded: the claimed side")
    if not panels:
        axes[0, 0].axis("off")
    counts = claims.verdict.value_counts()
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICT_COLORS)
    axes[0, 0].set_title(f"{len(claims)} claims: {summary}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def _show(ax, img_chw: torch.Tensor, title: str = ""):
    img = img_chw.permute(1, 2, 0).numpy()
    ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def attribution(analysis: dict, path, title: str = ""):
    """Per example (correct, wrong): the image, its CAM / Grad-CAM overlay, its guided-backprop saliency."""
    ex = analysis["examples"]
    names = analysis["classes"]
    fig, axes = plt.subplots(max(1, len(ex)), 3, figsize=(8, 2.8 * max(1, len(ex))), squeeze=False)
    for row, (key, e) in enumerate(ex.items()):
        _show(axes[row, 0], e["x"][0], f"{key}: true {names[e['label']]}, predicted {names[e['pred']]}")
        _show(axes[row, 1], e["x"][0], f"{e['cam_method']} for '{names[e['pred']]}'")
        axes[row, 1].imshow(e["cam"].numpy(), cmap="jet", alpha=0.45)
        sal = e["saliency"].abs().amax(0)
        axes[row, 2].imshow((sal / sal.max().clamp_min(1e-12)).numpy(), cmap="gray")
        axes[row, 2].set_title("guided backpropagation", fontsize=8)
        axes[row, 2].axis("off")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def _mosaic(tiles: np.ndarray, cols: int, min_side: int = 16, gap: int = 2) -> np.ndarray:
    """One RGB image of ``tiles`` (N, H, W, 3 in [0, 1]) in rows of ``cols``, white between
    them and in a short last row, each tile enlarged to at least ``min_side`` pixels so that a
    3x3 filter stays legible. One image in one axes: a grid of 192 axes took 1 s to build."""
    n, h, w, _ = tiles.shape
    k = max(1, -(-min_side // max(h, w)))
    tiles = tiles.repeat(k, axis=1).repeat(k, axis=2)
    h, w, rows = h * k, w * k, -(-n // cols)
    out = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, 3))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tile
    return out


def _scaled(a: np.ndarray) -> np.ndarray:
    """Each leading entry (a channel, a filter) scaled to its own [0, 1], as imshow would."""
    flat = a.reshape(len(a), -1)
    low, high = flat.min(1), flat.max(1)
    shape = (-1,) + (1,) * (a.ndim - 1)
    return (a - low.reshape(shape)) / np.maximum(high - low, 1e-12).reshape(shape)


def feature_maps(analysis: dict, path, title: str = "", max_channels: int = 32, per_row: int = 16):
    """Feature maps of up to three conv layers, one tile per channel (each scaled to its own
    range, viridis), for both examples: one mosaic per example and layer."""
    blocks = [(key, name, a) for key, e in analysis["examples"].items() for name, a in e["feature_maps"]]
    images = [
        (f"{key}, {name} ({min(len(a), max_channels)} of {len(a)} ch.)",
         _mosaic(plt.get_cmap("viridis")(_scaled(a[:max_channels].numpy()))[..., :3], per_row))
        for key, name, a in blocks
    ]  # fmt: skip
    heights = [img.shape[0] / img.shape[1] for _, img in images] or [1]
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(per_row * 0.8, sum(heights) * per_row * 0.8 + 0.35 * len(heights) + 0.6),
        squeeze=False, gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, img) in zip(axes.flat, images):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(label, fontsize=8, loc="left")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def filters(weight: torch.Tensor, path, title: str = "", max_filters: int = 64):
    """First-layer filters in a square grid, each big enough to judge whether it looks
    Gabor-like: RGB for 3-channel input, else the first input channel, each scaled to [0, 1]."""
    w = weight[:max_filters]
    w = (w if w.shape[1] == 3 else w[:, :1].expand(-1, 3, -1, -1)).numpy()
    n = len(w)
    cols = max(1, int(np.ceil(np.sqrt(n))))
    rows = -(-n // cols)
    fig, ax = plt.subplots(figsize=(cols * 1.3, rows * 1.3 + 0.5))
    ax.imshow(_mosaic(_scaled(w).transpose(0, 2, 3, 1), cols, min_side=24), interpolation="nearest")
    ax.axis("off")
    k = tuple(weight.shape[-2:])
    fig.suptitle(
        f"{title}\nfirst-layer filters ({n} of {len(weight)}, {k[0]}x{k[1]}, each scaled to its range)", fontsize=9
    )
    _save(fig, path)


def grid_projection(table: pd.DataFrame, path, title: str = ""):
    """Projected hours per study of the whole grid (every run, every seed) on one device, and
    each run's measured training throughput."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, max(3.5, 0.25 * len(table) + 1)))
    hours = table.groupby("study", sort=False).seconds.sum() / 3600
    left.barh(hours.index[::-1], hours.values[::-1], color="tab:blue")
    left.set_xlabel("projected hours, all runs and seeds")
    left.set_title(f"total {hours.sum():.2f} h on {table.device.iloc[0]}", fontsize=10)
    labels = table.study + " / " + table.run
    right.barh(labels[::-1], table.train_images_per_second[::-1], color="tab:green")
    _log_scale(right.xaxis)
    right.set_xlabel("training images per second (measured, log scale)")
    right.tick_params(axis="y", labelsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
