import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_summary

from cnnstudy.judging import questions, statistics, tables
from cnnstudy.records import RecordError, write_record


def confusion_rows(study, model, seed, matrix, classes=("a", "b")):
    return [
        dict(
            study=study, model=model, seed=seed, split="val", true=classes[t], predicted=classes[p], count=matrix[t][p]
        )
        for t in range(2)
        for p in range(2)
    ]


def test_runs_table_one_row_per_run(tmp_path):
    files = []
    for i, (model, acc) in enumerate([("m1", 0.5), ("m2", 0.7)]):
        files.append(tmp_path / f"{i}.json")
        write_record(run_summary(model=model, best_val_accuracy=acc), files[-1])
    t = tables.runs_table(files)
    assert list(t.model) == ["m1", "m2"] and list(t.columns) == tables.RUN_COLUMNS


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda d: d.pop("test_accuracy"), r"key\(s\) missing \['test_accuracy'\], unknown \[\]"),
        (lambda d: d.update(test_acc=0.5), r"missing \[\], unknown \['test_acc'\]"),
        (lambda d: d.update(version=1), "layout version 1, and this code reads RunSummary version 2"),
    ],
    ids=["renamed-away", "unknown-key", "older-layout"],
)
def test_a_summary_with_a_key_missing_unknown_or_of_an_older_layout_fails_naming_file_and_key(tmp_path, change, says):
    """Renaming a key in the writer once gave the runs table a NaN column, and claims on it
    became inconclusive without a word."""
    path = tmp_path / "summary.json"
    write_record(run_summary(), path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=says) as err:
        tables.runs_table([path])
    assert str(path) in str(err.value) and "--forcerun" in str(err.value)


def run_rows(study, model, accuracies, test_split=False, status="completed"):
    column = "test_accuracy" if test_split else "final_val_accuracy"
    base = dict(
        study=study, model=model, status=status, test_split=test_split, best_val_accuracy=np.nan,
        final_val_accuracy=np.nan, test_accuracy=np.nan,
    )  # fmt: skip
    return [{**base, "seed": s, column: a} for s, a in enumerate(accuracies)]


def test_comparison_gives_the_paired_t_interval_and_a_verdict_read_off_it():
    from scipy import stats

    big, small = [0.80, 0.84, 0.82, 0.86, 0.83], [0.70, 0.73, 0.74, 0.72, 0.71]
    runs = pd.DataFrame(run_rows("s", "big", big) + run_rows("s", "small", small))
    spec = {
        "s": {
            "comparisons": [
                {"a": "big", "b": "small", "question": "bigger?"},
                {"a": "small", "b": "big", "question": "smaller?"},
            ]
        }
    }
    ans = questions.answers(runs, pd.DataFrame(), spec).set_index("question")
    d = np.subtract(big, small)
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    row = ans.loc["bigger?"]
    assert row.mean_difference == pytest.approx(d.mean()) and row.n == 5
    assert (row.ci_low, row.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert (
        row.verdict == "better"
        and row.answer == "big is better"
        and row.metric.startswith("val accuracy of the last epoch")
    )
    assert ans.loc["smaller?", "verdict"] == "worse"


def test_n_of_one_or_an_interval_covering_zero_is_inconclusive():
    one = pd.DataFrame(run_rows("s", "a", [0.9]) + run_rows("s", "b", [0.5]))
    spec = {"s": {"comparisons": [{"a": "a", "b": "b", "question": "q"}]}}
    row = questions.answers(one, pd.DataFrame(), spec).set_index("question").loc["q"]
    assert row.verdict == "inconclusive" and row.n == 1 and np.isnan(row.ci_low) and "no interval" in row.note
    noisy = pd.DataFrame(run_rows("s", "a", [0.5, 0.7, 0.4]) + run_rows("s", "b", [0.6, 0.5, 0.5]))
    row = questions.answers(noisy, pd.DataFrame(), spec).set_index("question").loc["q"]
    assert row.ci_low < 0 < row.ci_high and row.verdict == "inconclusive"


def test_ranking_shows_ties_within_intervals_and_best_model_says_when_it_is_unclear():
    runs = pd.DataFrame(
        run_rows("s", "top", [0.90, 0.91, 0.92])
        + run_rows("s", "twin", [0.60, 0.62, 0.61])
        + run_rows("s", "twin2", [0.61, 0.60, 0.62])
    )
    ans = questions.answers(runs, pd.DataFrame(), {"s": {}}).set_index("question")
    assert ans.loc["which model is best?", "answer"] == "top" and ans.loc["which model is best?", "verdict"] == "clear"
    chain = ans.loc["ranking ('≈': tied within the interval)", "answer"]
    assert chain in ("top > twin ≈ twin2", "top > twin2 ≈ twin")
    assert ans.loc["ranking ('≈': tied within the interval)", "verdict"] == "partly tied"
    single = questions.answers(
        pd.DataFrame(run_rows("s", "x", [0.9]) + run_rows("s", "y", [0.5])), pd.DataFrame(), {"s": {}}
    )
    best = single.set_index("question").loc["which model is best?"]
    assert best.verdict == "inconclusive" and best.answer == "x or y"  # equal means are no order at n = 1


def test_hardest_class_is_per_model_and_never_pooled():
    conf = pd.DataFrame(
        confusion_rows("s", "m1", 0, [[9, 1], [5, 5]])
        + confusion_rows("s", "m1", 1, [[8, 2], [6, 4]])
        + confusion_rows("s", "m2", 0, [[2, 8], [0, 10]])
        + confusion_rows("s", "m2", 1, [[3, 7], [1, 9]])
    )
    runs = pd.DataFrame(run_rows("s", "m1", [0.7, 0.6]) + run_rows("s", "m2", [0.6, 0.6]))
    ans = questions.answers(runs, conf, {"s": {}}).set_index("question")
    assert ans.loc["which class is hardest for m1?", "a"] == "b"
    assert ans.loc["which class is hardest for m2?", "a"] == "a"
    assert ans.loc["which class is hardest for m1?", "metric"] == "val recall"


def test_metric_is_test_accuracy_of_the_best_val_epoch_where_there_is_a_test_split():
    runs = pd.DataFrame(
        run_rows("s", "a", [0.8, 0.9], test_split=True) + run_rows("s", "b", [0.7, 0.8], test_split=True)
    )
    runs["best_val_accuracy"] = 0.99  # chosen on val: never the reported number when a test split exists
    ans = questions.answers(runs, pd.DataFrame(), {"s": {"comparisons": [{"a": "a", "b": "b", "question": "q"}]}})
    row = ans.set_index("question").loc["q"]
    assert row.metric == "test accuracy (best-val epoch)" and row.mean_difference == pytest.approx(0.1)


def test_diverged_runs_are_counted_and_left_out_never_zeros_in_a_mean():
    runs = pd.DataFrame(
        run_rows("s", "a", [0.8, 0.9, 0.85])
        + run_rows("s", "b", [0.7, 0.8, 0.75])[:2]
        + [
            dict(
                study="s",
                model="b",
                seed=2,
                status="diverged",
                test_split=False,
                best_val_accuracy=0.1,
                final_val_accuracy=0.1,
                test_accuracy=np.nan,
            )
        ]
    )
    row = questions.answers(runs, pd.DataFrame(), {"s": {"comparisons": [{"a": "a", "b": "b", "question": "q"}]}})
    row = row.set_index("question").loc["q"]
    assert row.n == 2 and row.mean_b == pytest.approx(0.75) and "b (1 seed)" in row.note


def test_mnist_class_names_stay_strings_through_the_tables(tmp_path):
    conf = pd.DataFrame(confusion_rows("s", "m", 0, [[9, 1], [5, 5]], classes=("0", "1")))
    conf.to_csv(tmp_path / "c.csv", index=False)
    back = tables.read_table(tmp_path / "c.csv")
    assert back.true.tolist() == ["0", "0", "1", "1"]
    ans = questions.answers(pd.DataFrame(run_rows("s", "m", [0.7])), back, {"s": {}})
    assert ans.set_index("question").loc["which class is hardest for m?", "a"] == "1"


def test_prediction_interval_is_wider_than_the_interval_of_the_mean_by_sqrt_n_plus_one():
    from scipy import stats

    v = [0.60, 0.62, 0.58, 0.61, 0.59]
    low, high = statistics.prediction_interval(v)
    iv = statistics.mean_interval(v)
    assert (high - low) / (iv.high - iv.low) == pytest.approx(np.sqrt(1 + len(v)))
    assert high - np.mean(v) == pytest.approx(stats.t.ppf(0.975, 4) * np.std(v, ddof=1) * np.sqrt(1 + 1 / 5))
    assert np.isnan(statistics.prediction_interval([0.5])).all()


def test_a_seed_that_ended_at_chance_is_marked_collapsed_unless_a_chance_claim_expects_it(tmp_path):
    rows = [("m", 0, "completed", 0.11), ("m", 1, "completed", 0.60), ("hot", 0, "completed", 0.10),
            ("m", 2, "diverged", None)]  # fmt: skip
    files = []
    for i, (model, seed, status, acc) in enumerate(rows):
        files.append(tmp_path / f"{i}.json")
        write_record(run_summary(model=model, seed=seed, status=status, final_val_accuracy=acc), files[-1])
    t = tables.runs_table(files, expected_at_chance={("s", "hot")}, collapse_margin=0.02)
    marked = {(r.model, r.seed): r.collapsed for r in t.itertuples()}
    assert marked == {("m", 0): True, ("m", 1): False, ("hot", 0): False, ("m", 2): False}


def test_the_bounded_prediction_interval_stays_inside_zero_and_one():
    low, high = statistics.bounded_prediction_interval([0.969, 0.114, 0.964])
    assert 0 < low < 0.05 and 0.99 < high < 1  # a collapsed seed: it spans the range, it does not leave it
    low, high = statistics.bounded_prediction_interval([0.999, 1.0, 0.998])
    assert 0.9 < low < high < 1
    assert statistics.outward(0.60496, 0.65894, 3) == (0.604, 0.659)
    assert statistics.decimals_of(0.5546) == 4 and statistics.decimals_of(0.6) == 1


def test_a_paired_difference_of_accuracies_stays_inside_minus_one_to_one():
    values = pd.DataFrame({"a": [0.9, 0.85], "b": [0.2, 0.25]})
    iv = statistics.paired(values, "a", "b")
    assert -1 <= iv.low < iv.mean < iv.high <= 1 and iv.high == 1.0  # the t interval alone reaches past 1
