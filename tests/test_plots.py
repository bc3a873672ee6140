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
