"""The report's figures: what a reader sees in them."""

import subprocess
import sys

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cnnstudy.report import plots


def _texts(ax):
    return [(t.get_text(), tuple(t.get_position()), mcolors.to_rgba(t.get_color())) for t in ax.texts]


def _cells(ax):
    mesh = ax.collections[0]
    return mesh.to_rgba(mesh.get_array().ravel())


def _ticks(axis):
    return list(axis.get_ticklocs()), [t.get_text() for t in axis.get_ticklabels()]


def test_confusion_cells_and_counts_are_drawn_as_seaborns_heatmap_with_annot_draws_them():
    """Our heatmap and annotation (no figure draw per heatmap, no seaborn import) give each cell
    the colour, label, text, place and text colour of seaborn's heatmap with annot, on a matrix
    whose smallest count is not zero; long class names stand upright, digits do not."""
    classes = ["airplane", "automobile", "bird"]
    counts = pd.DataFrame(np.array([[40, 3, 7], [5, 28, 1], [2, 9, 33]]) + 2, index=classes, columns=classes)
    fig, (theirs, ours) = plt.subplots(1, 2)
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=theirs)
    plots._heatmap(ours, counts)
    plots._annotate_counts(ours, counts.to_numpy())
    np.testing.assert_allclose(_cells(ours), _cells(theirs))
    assert _ticks(ours.xaxis) == _ticks(theirs.xaxis) and _ticks(ours.yaxis) == _ticks(theirs.yaxis)
    assert ours.get_ylim() == theirs.get_ylim() == (3, 0)  # the first true class on top
    assert len(ours.texts) == 9 and _texts(ours) == _texts(theirs)
    assert {color for *_, color in _texts(ours)} == {mcolors.to_rgba("w"), mcolors.to_rgba(".15")}
    assert {t.get_rotation() for t in ours.get_xticklabels()} == {90}
    digits = pd.DataFrame(np.eye(3, dtype=int), index=list("012"), columns=list("012"))
    plots._heatmap(ours, digits)
    assert {t.get_rotation() for t in ours.get_xticklabels()} == {0}
    plt.close(fig)


def test_a_confusion_figure_imports_no_seaborn(tmp_path):
    """A confusion figure job's process never imports seaborn (nor scipy.stats with it)."""
    probe = (
        "import sys, pandas as pd\n"
        "from cnnstudy.report import plots\n"
        "rows = [dict(split=s, true=t, predicted=p, count=1) for s in ('train', 'val') for t in 'ab' for p in 'ab']\n"
        f"plots.confusion_pair(pd.DataFrame(rows), {str(tmp_path / 'c.png')!r}, title='t')\n"
        "print('seaborn' in sys.modules, 'scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"] and (tmp_path / "c.png").stat().st_size > 0


def _drawn(monkeypatch, draw, *args):
    """The figure ``draw`` would save, kept open to be read."""
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    draw(*args)
    return figures[0]


def test_gradient_norms_show_each_runs_own_last_record_and_a_dead_layer_at_a_floor(monkeypatch):
    """A short run's last record is its own (the longest run's last step would drop it), and a
    layer whose gradient is 0 is drawn at a floor three decades under the median, said so in
    the title, instead of stretching the axis over hundreds of decades."""
    rows = [
        {"model": model, "seed": seed, "step": step, "depth": depth, "grad_norm": 0.0 if dead else 0.5 + depth}
        for model, last, dead in (("short", 100, False), ("long", 500, True))
        for seed in (0, 1)
        for step in range(20, last + 1, 20)
        for depth in range(3)
    ]
    fig = _drawn(monkeypatch, plots.gradient_norms, pd.DataFrame(rows), "unused.png")
    first, last = fig.axes[:2]
    assert [t.get_text() for t in last.get_legend().get_texts()] == ["short", "long"]
    assert "(steps 100-500)" in last.get_title() and "(step 20)" in first.get_title()
    assert "6 below 0.001 (a dead layer's) drawn at 0.001" in last.get_title()
    low, high = last.get_ylim()
    assert 1e-4 < low < 1e-3 and high < 10
    plt.close(fig)


def test_an_ablation_counts_diverged_and_collapsed_seeds_under_the_run_name(monkeypatch):
    runs = pd.DataFrame(
        [
            {
                "model": model,
                "seed": seed,
                "status": status,
                "collapsed": collapsed,
                "test_accuracy": acc,
                "chance_level": 0.1,
                "test_split": True,
            }
            for model, status, collapsed, acc in (
                ("steady", "completed", False, 0.8),
                ("shaky", "completed", True, 0.1),
                ("gone", "diverged", False, np.nan),
            )
            for seed in range(3)
        ]
    )
    fig = _drawn(monkeypatch, plots.ablation, runs, "unused.png")
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["steady", "shaky\n3 collapsed", "gone\n3 diverged"]
    assert "(n = 3 seeds)" in fig.axes[0].get_title()
    plt.close(fig)


def test_a_mosaic_places_each_tile_enlarged_with_white_between_and_after():
    """Tile i sits at row i // cols, column i % cols, each pixel repeated to reach the minimum
    side; the gaps and the unfilled end of the last row are white."""
    tiles = np.random.default_rng(0).uniform(0, 0.9, (5, 3, 3, 3))
    m = plots._mosaic(tiles, cols=3, min_side=6, gap=2)  # each 3x3 tile becomes 6x6
    assert m.shape == (2 * 6 + 2, 3 * 6 + 2 * 2, 3)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, 3)
        np.testing.assert_array_equal(m[r * 8 : r * 8 + 6, c * 8 : c * 8 + 6], tile.repeat(2, 0).repeat(2, 1))
    assert (m[6:8] == 1).all() and (m[:, 6:8] == 1).all()  # the gaps
    assert (m[8:, 16:] == 1).all()  # where a sixth tile would be


def test_feature_maps_and_filters_are_one_image_per_block_scaled_per_channel(monkeypatch):
    """One axes per example and layer (not one per channel), every channel scaled to its own
    range; filters from a 1-channel input are shown grey, each scaled to its range."""
    import torch

    maps = [("conv1", torch.arange(6 * 4 * 4.0).reshape(6, 4, 4)), ("conv2", -torch.rand(40, 2, 2))]
    analysis = {"examples": {k: {"feature_maps": maps} for k in ("correct", "wrong")}}
    fig = _drawn(monkeypatch, plots.feature_maps, analysis, "unused.png", "t", 32, 16)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title(loc="left") for ax in shown] == [
        f"{k}, {name}" for k in ("correct", "wrong") for name in ("conv1 (6 of 6 ch.)", "conv2 (32 of 40 ch.)")
    ]
    first = shown[0].images[0].get_array()
    viridis = plt.get_cmap("viridis")
    np.testing.assert_allclose(first[0, 0], viridis(0.0)[:3])  # each channel's minimum
    np.testing.assert_allclose(first[15, 15], viridis(1.0)[:3])  # and its maximum (4x4 grown to 16x16)
    assert shown[1].images[0].get_array().shape[0] == 2 * 16 + 2  # 32 channels, 16 a row
    plt.close(fig)

    weight = torch.randn(9, 1, 3, 3)
    fig = _drawn(monkeypatch, plots.filters, weight, "unused.png", "t")
    (image,) = fig.axes[0].images
    grid = image.get_array()
    tile = grid[:24, :24]  # the first filter, 3x3 grown to 24x24
    assert np.allclose(tile[..., 0], tile[..., 1]) and tile.min() == 0 and tile.max() == 1
    assert grid.shape[:2] == (3 * 24 + 2 * 2, 3 * 24 + 2 * 2) and "9 of 9, 3x3" in fig.texts[0].get_text()
    plt.close(fig)


def test_a_dataset_card_has_a_bar_per_class_and_split_as_tall_as_its_count(monkeypatch):
    counts = pd.DataFrame(
        [
            {"class": c, "split": s, "count": n}
            for s, ns in (("train", (40, 38)), ("val", (10, 12)))
            for c, n in zip("ba", ns)
        ]
    )
    fig = _drawn(monkeypatch, plots.class_counts, counts, "unused.png", "cifar10")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "a"]  # the data's order, not sorted
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "val"]
    fig.canvas.draw()
    legend, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 > axes_box.x1  # beside the bars, never over one
    assert [p.get_height() for p in ax.patches] == [40, 38, 10, 12]
    assert ax.get_title() == "cifar10: images per class and split"
    plt.close(fig)
