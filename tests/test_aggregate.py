import json

import numpy as np
import pandas as pd
import pytest

from cnnstudy import aggregate


def confusion_rows(study, model, seed, matrix, classes=("a", "b")):
    return [
        dict(study=study, model=model, seed=seed, split="val", true=classes[t], predicted=classes[p], count=matrix[t][p])
        for t in range(2) for p in range(2)
    ]


def test_runs_table_one_row_per_run(tmp_path):
    files = []
    for i, (model, acc) in enumerate([("m1", 0.5), ("m2", 0.7)]):
        f = tmp_path / f"{i}.json"
        f.write_text(json.dumps({"study": "s", "model": model, "seed": 0, "status": "completed", "best_val_accuracy": acc}))
        files.append(f)
    t = aggregate.runs_table(files)
    assert list(t.model) == ["m1", "m2"] and list(t.columns) == aggregate.RUN_COLUMNS


def test_answers_rank_models_pair_seeds_and_find_the_hardest_class():
    runs = pd.DataFrame(
        [
            dict(study="s", model="big", seed=0, status="completed", best_val_accuracy=0.8),
            dict(study="s", model="big", seed=1, status="completed", best_val_accuracy=0.9),
            dict(study="s", model="small", seed=0, status="completed", best_val_accuracy=0.6),
            dict(study="s", model="small", seed=1, status="completed", best_val_accuracy=0.6),
            dict(study="s", model="wild", seed=0, status="diverged", best_val_accuracy=np.nan),
        ]
    )
    conf = pd.DataFrame(
        confusion_rows("s", "big", 0, [[9, 1], [5, 5]]) + confusion_rows("s", "small", 0, [[8, 2], [6, 4]])
    )
    spec = {"s": {"comparisons": [{"a": "big", "b": "small", "question": "is bigger better?"}]}}
    ans = aggregate.answers(runs, conf, spec).set_index("question")
    assert ans.loc["which model is best?", "answer"] == "big"
    assert ans.loc["which model is best?", "value"] == pytest.approx(0.85)
    assert ans.loc["ranking (mean best val accuracy)", "answer"] == "big > small"
    assert ans.loc["which class is hardest? (val recall, all runs)", "answer"] == "b"
    assert ans.loc["is bigger better?", "value"] == pytest.approx(0.25)
    assert ans.loc["is bigger better?", "answer"].startswith("yes")
    assert ans.loc["diverged runs", "answer"] == "wild/seed0"


def test_versus_reported_uses_test_accuracy_when_there_is_one():
    runs = pd.DataFrame(
        [
            dict(study="s", model="a", seed=0, status="completed", best_val_accuracy=0.5, test_accuracy=0.6, final_val_accuracy=0.5),
            dict(study="s", model="a", seed=1, status="completed", best_val_accuracy=0.5, test_accuracy=0.8, final_val_accuracy=0.5),
            dict(study="t", model="b", seed=0, status="diverged", best_val_accuracy=np.nan, test_accuracy=np.nan, final_val_accuracy=0.1),
        ]
    )
    v = aggregate.versus_reported(runs, {"s": {"reported": {"a": 0.65}}, "t": {"reported": {"b": 0.1}}}).set_index("model")
    assert v.loc["a", "ours_mean"] == pytest.approx(0.7) and v.loc["a", "our_metric"] == "test"
    assert v.loc["a", "difference"] == pytest.approx(0.05) and v.loc["a", "n_seeds"] == 2
    assert v.loc["b", "ours_mean"] == pytest.approx(0.1)  # a diverged run counts with its last accuracy
