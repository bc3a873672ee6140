"""The report's figures: what a reader sees in them."""

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cnnstudy.report import plots


def _texts(ax):
    return [(t.get_text(), tuple(t.get_position()), mcolors.to_rgba(t.get_color())) for t in ax.texts]


def test_confusion_counts_are_written_as_seaborn_writes_them():
    """Our annotation (three figure draws fewer per confusion figure) gives each cell the text,
    place and colour of seaborn's annot, on a matrix whose smallest count is not zero."""
    counts = pd.DataFrame(np.array([[40, 3, 7], [5, 28, 1], [2, 9, 33]]) + 2)
    fig, (theirs, ours) = plt.subplots(1, 2)
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=theirs)
    sns.heatmap(counts, cmap="Blues", cbar=False, ax=ours)
    plots._annotate_counts(ours, counts.to_numpy())
    assert len(ours.texts) == 9 and _texts(ours) == _texts(theirs)
    assert {color for *_, color in _texts(ours)} == {mcolors.to_rgba("w"), mcolors.to_rgba(".15")}
    plt.close(fig)


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
