"""Claims judged from synthetic tables whose right verdict is known."""

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from cnnstudy.config import Claim
from cnnstudy.judging import claims
from cnnstudy.judging.statistics import PairedTest, adjust
from cnnstudy.judging.verdicts import VERDICTS

SEEDS = range(5)


def runs_table(values: dict, study="s", test=True, diverged=(), collapsed=(), last_test=None) -> pd.DataFrame:
    """One row per (run, seed); ``values``: run -> list of accuracies; ``diverged`` and
    ``collapsed``: (run, seed); ``last_test``: run -> the last epoch's test accuracies."""
    rows = []
    for model, accs in values.items():
        for seed, acc in enumerate(accs):
            bad = (model, seed) in diverged
            rows.append(
                dict(
                    study=study,
                    model=model,
                    seed=seed,
                    status="diverged" if bad else "completed",
                    test_split=test,
                    test_accuracy=np.nan if bad else acc,
                    final_val_accuracy=np.nan if bad else acc,
                    best_val_accuracy=acc,
                    final_test_accuracy=np.nan if bad else (last_test or {}).get(model, accs)[seed],
                    best_test_accuracy=acc,
                    chance_level=0.1,
                    collapsed=(model, seed) in collapsed,
                )  # fmt: skip
            )
    return pd.DataFrame(rows, columns=RUN_KEYS)  # the columns even with no rows, as aggregate writes them


RUN_KEYS = ["study", "model", "seed", "status", "test_split", "test_accuracy", "final_val_accuracy",
            "best_val_accuracy", "final_test_accuracy", "best_test_accuracy", "chance_level", "collapsed"]  # fmt: skip


def evidence(runs, confusion=None, grads=None, cases=None) -> claims.Evidence:
    empty = pd.DataFrame()
    return claims.Evidence(runs, empty if confusion is None else confusion, empty if grads is None else grads,
                           empty if cases is None else cases)  # fmt: skip


def claim(kind, report="r1", study="s", cid=None, reported="test accuracy", reading="", **spec) -> Claim:
    """A claim; ``reported``: the report's metric in words; ``spec``: the kind's keys."""
    return Claim(cid or f"{kind}_{len(spec)}", report, study, kind, "their words", reported, spec, "here", reading)


def judge_one(c, ev) -> claims.Judgement:
    return claims.judge([c], ev)[0]


BASE = [0.60, 0.62, 0.58, 0.61, 0.59]


def test_a_clear_difference_is_reproduced_and_its_reverse_contradicted():
    ev = evidence(runs_table({"a": [v + 0.05 for v in BASE], "b": BASE}))
    up = judge_one(claim("difference", a="a", b="b", direction="greater"), ev)
    down = judge_one(claim("difference", a="b", b="a", direction="greater"), ev)
    assert (up.verdict, down.verdict) == ("reproduced", "contradicted")
    assert up.n == 5 and "a − b: +0.0500" in up.evidence and "test accuracy (best-val epoch)" in up.evidence


def test_a_noisy_difference_is_inconclusive_and_says_how_many_seeds_would_resolve_it():
    ev = evidence(runs_table({"a": [0.61, 0.60, 0.63, 0.58, 0.62], "b": [0.60, 0.62, 0.60, 0.60, 0.60]}))
    j = judge_one(claim("difference", a="a", b="b", direction="greater"), ev)
    assert j.verdict == "inconclusive"
    needed = j.tests[0].seeds_needed
    assert 5 < needed < 1000 and f"about {int(needed)} seeds would resolve it" in j.evidence


def test_one_seed_gives_no_interval_and_no_verdict():
    ev = evidence(runs_table({"a": [0.9], "b": [0.1]}))
    j = judge_one(claim("difference", a="a", b="b", direction="greater"), ev)
    assert j.verdict == "inconclusive" and "n = 1 (no interval)" in j.evidence


def test_holm_adjusts_the_p_values_of_one_report_together_not_across_reports():
    diffs = {"a": [0.03, 0.01, 0.02, 0.04, -0.005], "c": [0.02, 0.035, 0.01, 0.03, -0.004]}
    ev = evidence(runs_table({"b": BASE, **{k: [x + d for x, d in zip(BASE, v)] for k, v in diffs.items()}}))
    same = [claim("difference", cid=k, a=k, b="b", direction="greater") for k in diffs]
    apart = [claim("difference", cid=k, report=f"r_{k}", a=k, b="b", direction="greater") for k in diffs]
    together = claims.tests_table(claims.judge(same, ev))
    alone = claims.tests_table(claims.judge(apart, ev))
    assert together.p.tolist() == pytest.approx(alone.p.tolist())  # raw p-values do not depend on the family
    assert together.p_holm.tolist() == pytest.approx(multipletests(together.p, method="holm")[1].tolist())
    assert alone.p_holm.tolist() == pytest.approx(alone.p.tolist())  # a family of one is not adjusted
    assert (together.p_holm > together.p).all()


def test_an_order_is_contradicted_by_one_reversed_pair_and_reproduced_when_every_pair_holds():
    ev = evidence(runs_table({"x": [v + 0.1 for v in BASE], "y": BASE, "z": [v - 0.1 for v in BASE]}))
    assert judge_one(claim("order", runs=["x", "y", "z"]), ev).verdict == "reproduced"
    wrong = judge_one(claim("order", runs=["x", "z", "y"]), ev)
    assert wrong.verdict == "contradicted" and len(wrong.tests) == 2


def test_best_compares_the_run_with_each_other_one():
    ev = evidence(runs_table({"x": [v + 0.1 for v in BASE], "y": BASE, "z": [v - 0.1 for v in BASE]}))
    j = judge_one(claim("best", run="y", among=["x", "z"]), ev)
    assert j.verdict == "contradicted" and [t.outcome for t in j.tests] == ["contradicts", "supports"]


def test_a_single_run_is_compared_with_the_prediction_interval_not_the_interval_of_our_mean():
    ev = evidence(runs_table({"a": BASE}))  # mean 0.60, sd 0.0158: mean CI about +-0.02, prediction +-0.048
    typical = judge_one(claim("number", run="a", value=0.635, metric="test_of_best_val"), ev)
    assert typical.verdict == "reproduced"
    row = claims.versus_reported([typical]).iloc[0]
    assert row.ci_high < 0.635 < row.pi_high  # outside our mean's interval, inside one run's
    assert row.reported_in_prediction_interval == "yes" and row.reported_metric == "test accuracy"
    assert judge_one(claim("number", run="a", value=0.70, metric="test_of_best_val"), ev).verdict == "contradicted"
    overlapping = claim("number", run="a", value=[0.64, 0.70], metric="test_of_best_val")
    assert judge_one(overlapping, ev).verdict == "reproduced"  # the range overlaps


def test_chance_level_counts_diverged_seeds_as_at_chance():
    ev = evidence(runs_table({"hot": [0.1, 0.105, 0.1, 0.5, 0.1]}, diverged={("hot", 0), ("hot", 1)}))
    j = judge_one(claim("chance", run="hot", margin=0.02), ev)
    assert j.verdict == "inconclusive" and "4 of 5 seeds at chance" in j.evidence and "2 diverged" in j.evidence
    ev = evidence(runs_table({"hot": [0.1] * 5}, diverged={("hot", s) for s in SEEDS}))
    assert judge_one(claim("chance", run="hot", margin=0.02), ev).verdict == "reproduced"
    ev = evidence(runs_table({"hot": [0.6] * 5}))
    assert judge_one(claim("chance", run="hot", margin=0.02), ev).verdict == "contradicted"


def _confusion(recalls: dict, study="s", model="a", split="test", n=100) -> pd.DataFrame:
    """Per seed, a confusion matrix whose class recalls are ``recalls[class][seed]``."""
    rows, names = [], list(recalls)
    for seed in SEEDS:
        for c in names:
            hit = round(recalls[c][seed] * n)
            other = names[(names.index(c) + 1) % len(names)]
            ident = dict(study=study, model=model, seed=seed, split=split, true=c)
            rows += [{**ident, "predicted": c, "count": hit}, {**ident, "predicted": other, "count": n - hit}]
    return pd.DataFrame(rows)


def test_hardest_classes_hold_only_where_every_other_class_is_easier():
    recalls = {"cat": [0.5, 0.52, 0.49, 0.51, 0.5], "dog": [0.55, 0.53, 0.56, 0.54, 0.55],
               "bus": [0.8, 0.82, 0.79, 0.81, 0.8], "pizza": [0.9, 0.88, 0.91, 0.9, 0.89]}  # fmt: skip
    ev = evidence(runs_table({"a": BASE}), confusion=_confusion(recalls))
    assert judge_one(claim("hardest_classes", classes=["cat", "dog"]), ev).verdict == "reproduced"
    assert judge_one(claim("hardest_classes", classes=["cat", "pizza"]), ev).verdict == "contradicted"
    j = judge_one(claim("hardest_classes", classes=["cat"], runs=["a"]), ev)
    assert j.verdict == "reproduced" and j.metric == "test recall of the best-val epoch"


def _grads(norms: dict, study="s") -> pd.DataFrame:
    """Gradient records: norms[(model, depth)] is a per-seed list, recorded at three steps."""
    return pd.DataFrame(
        [
            dict(study=study, model=m, seed=s, epoch=1, step=step, depth=d, layer=f"l{d}", grad_norm=v[s] * step)
            for (m, d), v in norms.items()
            for s in SEEDS
            for step in (1, 2, 3)
        ]  # fmt: skip
    )


def test_a_gradient_ratio_below_an_order_of_magnitude_is_reproduced():
    deep = [1e-4, 2e-4, 1.5e-4, 1e-4, 3e-4]
    shallow = [1e-2, 2e-2, 1e-2, 1.2e-2, 2e-2]
    grads = _grads({("deep", 0): deep, ("deep", 5): shallow, ("shallow", 0): shallow, ("shallow", 1): shallow})
    ev = evidence(runs_table({"deep": BASE, "shallow": BASE}), grads=grads)
    vanish = claim("gradient_ratio", a={"run": "deep", "layer": "first"}, b={"run": "shallow", "layer": "first"},
                   below=0.1)  # fmt: skip
    j = judge_one(vanish, ev)
    assert j.verdict == "reproduced" and j.tests[0].null == pytest.approx(-1)
    assert j.tests[0].differences.mean() == pytest.approx(np.mean(np.log10(np.array(deep) / shallow)))
    within = claim("gradient_ratio", a={"run": "shallow", "layer": "first"}, b={"run": "shallow", "layer": "last"},
                   below=0.1)  # fmt: skip
    assert judge_one(within, ev).verdict == "contradicted"  # equal norms: the ratio is 1, not below 0.1


def test_similar_and_not_less_use_their_margin():
    ev = evidence(runs_table({"a": BASE, "b": [v + 0.001 * (-1) ** i for i, v in enumerate(BASE)],
                              "far": [v + 0.05 for v in BASE]}))  # fmt: skip
    assert judge_one(claim("difference", a="a", b="b", direction="similar", margin=0.01), ev).verdict == "reproduced"
    assert judge_one(claim("difference", a="a", b="far", direction="similar", margin=0.01), ev).verdict == (
        "contradicted"
    )
    assert judge_one(claim("difference", a="b", b="a", direction="not_less", margin=0.01), ev).verdict == "reproduced"
    assert judge_one(claim("difference", a="a", b="far", direction="not_less", margin=0.01), ev).verdict == (
        "contradicted"
    )


def test_claims_that_cannot_be_judged_say_why():
    ev = evidence(runs_table({"a": BASE, "b": BASE}, diverged={("b", s) for s in SEEDS}))
    j = judge_one(claim("difference", a="a", b="b", direction="greater"), ev)
    assert j.verdict == "not run" and j.evidence == "b diverged on all 5 seeds"
    j = judge_one(claim("number", study="elsewhere", run="a", value=0.5, metric="last_val"), ev)
    assert j.verdict == "not run" and j.evidence == "study elsewhere is not selected in this config (key select)"
    j = judge_one(claim("number", run="absent", value=0.5, metric="last_val"), ev)
    assert j.verdict == "not run" and j.evidence == "absent is not selected in this config (key select)"
    partial = evidence(runs_table({"a": BASE, "b": BASE}, diverged={("b", 0), ("b", 1)}))
    assert judge_one(claim("difference", a="a", b="b", direction="greater"), partial).n == 3  # pairs need both


def test_val_only_studies_are_judged_on_the_last_epoch_never_on_an_epoch_chosen_on_val():
    runs = runs_table({"a": [v + 0.05 for v in BASE], "b": BASE}, test=False)
    runs["best_val_accuracy"] = 0.99  # chosen on val: must not be what is reported
    j = judge_one(claim("difference", a="a", b="b", direction="greater"), evidence(runs))
    assert j.verdict == "reproduced" and j.metric == "val accuracy of the last epoch (no epoch chosen on val)"


def _cases(**errors) -> pd.DataFrame:
    rows = []
    for case in ("dilation", "grouping"):
        for impl in ("naive", "im2col"):
            error = errors.get(f"{case}_{impl}", 1e-12)
            rows.append(dict(case=case, implementation=impl, passed=error < 1e-9,
                             l2_error_grad_weight=np.nan if impl == "naive" else error))  # fmt: skip
    return pd.DataFrame(rows)


def test_convolution_claims_are_checked_on_the_gate_table():
    ok = evidence(runs_table({}), cases=_cases())
    passing = claim("conv_cases", study="", implementations=["naive", "im2col"])
    assert judge_one(passing, ok).verdict == "reproduced"
    broken = evidence(runs_table({}), cases=_cases(dilation_naive=1.0))
    j = judge_one(passing, broken)
    assert j.verdict == "contradicted" and "dilation (naive)" in j.evidence
    bound = claim("conv_error", study="", implementation="im2col", quantity="grad_weight", bound=3.6e-6)
    assert judge_one(bound, ok).verdict == "reproduced"
    j = judge_one(bound, evidence(runs_table({}), cases=_cases(grouping_im2col=1e-3)))
    assert j.verdict == "contradicted" and "case grouping" in j.evidence


def test_counts_per_report_cover_every_verdict():
    frame = pd.DataFrame({"report": ["r1", "r1", "r2"], "verdict": ["reproduced", "not run", "contradicted"]})
    table = claims.counts(frame).set_index("report")
    assert table.loc["r1"].to_dict() == {"claims": 2, "reproduced": 1, "contradicted": 0, "inconclusive": 0,
                                         "not run": 1}  # fmt: skip
    assert list(table.columns) == ["claims", *VERDICTS]


def test_seeds_needed_grows_as_the_effect_shrinks():
    noise = np.array([0.01, -0.01, 0.02, 0.0, -0.02])  # mean 0, the same spread for both
    small, larger = (PairedTest("c", "x", noise + effect, "greater") for effect in (0.004, 0.01))
    adjust([small])
    adjust([larger])
    assert small.outcome == larger.outcome == "inconclusive"
    assert 5 < larger.seeds_needed < small.seeds_needed < 1000


# ----------------------------------------------------------------------------- numbers judged like with like
LR = [0.969, 0.114, 0.964]  # seed003_lr_1e_2 on real MNIST: one seed collapsed to chance at lr 1e-2


def test_a_bimodal_seed_set_gets_an_interval_inside_the_range_and_no_verdict():
    """The normal interval of these seeds was [-1.76, 3.13], and 0.977 was judged reproduced."""
    j = judge_one(claim("number", run="lr", value=0.977, metric="test_of_best_val"), evidence(runs_table({"lr": LR})))
    row = claims.versus_reported([j]).iloc[0]
    assert 0 <= row.pi_low < row.pi_high <= 1
    assert j.verdict == "inconclusive" and "wider than 0.25 of the accuracy range" in j.evidence, j.evidence


def test_a_collapsed_seed_is_judged_with_and_without_and_a_verdict_that_flips_is_inconclusive():
    ev = evidence(runs_table({"lr": LR}, collapsed={("lr", 1)}))
    j = judge_one(claim("number", run="lr", value=0.977, metric="test_of_best_val"), ev)
    assert j.collapsed == "1 of 3 seeds of lr collapsed to chance (seed 1)"
    assert (
        j.verdict == "inconclusive"
        and "with them inconclusive" in j.evidence
        and "without them reproduced" in j.evidence
    )
    assert claims.claims_table([j]).collapsed.iloc[0] == j.collapsed
    far = judge_one(claim("number", run="lr", value=0.5, metric="test_of_best_val"), ev)  # wrong either way
    assert far.verdict == "inconclusive"  # too wide with it, contradicted without: they differ


def test_a_difference_that_holds_without_its_collapsed_seed_says_so_and_one_that_does_not_is_inconclusive():
    a = [v + 0.1 for v in BASE]
    steady = evidence(runs_table({"a": a, "b": BASE}, collapsed={("b", 4)}))  # b's seed 4 "collapsed" at 0.59
    j = judge_one(claim("difference", a="a", b="b", direction="greater"), steady)
    assert j.verdict == "reproduced" and "the same verdict without them" in j.evidence
    flips = evidence(runs_table({"a": [*a[:4], 0.1], "b": BASE}, collapsed={("a", 4)}))
    j = judge_one(claim("difference", a="a", b="b", direction="greater"), flips)
    assert j.verdict == "inconclusive" and "without them reproduced" in j.evidence, j.evidence


def test_a_number_on_the_bound_is_judged_at_the_reports_precision_and_printed_with_more_digits():
    from cnnstudy.judging.statistics import bounded_prediction_interval

    values = [0.628, 0.632, 0.637]
    low, _ = bounded_prediction_interval(values)
    at_precision = math.floor(low * 1000) / 1000
    assert at_precision < low  # below our interval when read to every digit ...
    ev = evidence(runs_table({"a": values}))
    j = judge_one(claim("number", run="a", value=at_precision, metric="test_of_best_val"), ev)
    assert j.verdict == "reproduced" and f"{low:.5f}" in j.evidence, j.evidence  # ... inside at its 3 decimals
    below = judge_one(claim("number", run="a", value=round(at_precision - 0.001, 3), metric="test_of_best_val"), ev)
    assert below.verdict == "contradicted"


def test_a_number_is_judged_on_the_record_matching_the_reports_metric():
    ev = evidence(runs_table({"a": BASE}, last_test={"a": [v + 0.1 for v in BASE]}))
    last = judge_one(claim("number", run="a", value=0.70, metric="last_test"), ev)
    assert last.verdict == "reproduced" and "on test accuracy of the last epoch" in last.evidence
    assert judge_one(claim("number", run="a", value=0.70, metric="test_of_best_val"), ev).verdict == "contradicted"
    none = judge_one(claim("number", run="a", value=0.70, metric="none"), ev)
    assert none.verdict == "inconclusive" and none.evidence.startswith("metrics differ"), none.evidence
    assert claims.versus_reported([last]).matched_metric.iloc[0] == "last_test"


def test_a_claim_on_a_set_up_we_had_to_choose_says_so_in_its_verdict():
    ev = evidence(runs_table({"a": [v + 0.05 for v in BASE], "b": BASE}))
    reading = "SGD lr 0.01, momentum 0.9 (the report: settings not given)"
    j = judge_one(claim("difference", a="a", b="b", direction="greater", reading=reading), ev)
    assert j.evidence.startswith(f"Under our reading of the set-up ({reading}): ")
    table = claims.claims_table([j, judge_one(claim("difference", cid="x", a="a", b="b", direction="greater"), ev)])
    assert table.set_up.tolist() == ["our reading", "the report's"] and table.reading.iloc[0] == reading


def test_a_difference_of_accuracies_keeps_its_interval_inside_minus_one_to_one():
    """Two seeds of a run that collapsed on one gave net1 − net3: +0.64 [-0.63, +1.91]."""
    ev = evidence(runs_table({"a": [0.9, 0.85], "b": [0.2, 0.25]}))
    j = judge_one(claim("difference", a="a", b="b", direction="greater"), ev)
    row = claims.tests_table([j]).iloc[0]
    assert -1 <= row.ci_low < row.ci_high <= 1 and "(within [-1, 1])" in j.evidence, j.evidence
    log_ratio = PairedTest("c", "log", np.array([-5.0, -6.0]), "less", unit="log10 ratio")
    assert log_ratio.interval().low < -1  # a log ratio is not a difference of fractions: not clipped


def test_a_run_whose_seeds_all_end_alike_is_judged_and_drawn(tmp_path):
    """Five seeds at exactly chance (the smoke run's nin_dropout): the logit-scale interval's
    back-transformed ends miss the mean by a rounding error; the figure still draws."""
    from PIL import Image

    from cnnstudy.report import plots

    j = judge_one(claim("number", run="a", value=0.744, metric="last_test"), evidence(runs_table({"a": [0.1] * 5})))
    table = claims.versus_reported([j])
    assert j.verdict == "contradicted" and table.n.iloc[0] == 5
    plots.versus_reported(table, tmp_path / "vs.png", title="all alike")
    assert Image.open(tmp_path / "vs.png").size[0] > 100


def _flipping_seeds(differences) -> list[int]:
    """The seeds whose leaving out turns a significant one-claim paired test non-significant (scipy)."""
    from scipy import stats

    d = np.asarray(differences)
    return [s for s in range(len(d)) if stats.ttest_1samp(np.delete(d, s), 0).pvalue >= 0.05]


def test_a_verdict_that_one_seed_carries_is_fragile_naming_it_and_a_steady_one_is_robust():
    steady, carried = [0.05, 0.052, 0.049, 0.051, 0.05], [0.015, 0.015, 0.03, 0.016, 0.047]
    assert _flipping_seeds(steady) == [] and _flipping_seeds(carried) == [2]  # the synthetic table's premise
    ev = evidence(runs_table({"b": BASE, **{k: [x + d for x, d in zip(BASE, v)] for k, v in
                                            {"steady": steady, "carried": carried}.items()}}))  # fmt: skip
    cs = [claim("difference", cid=k, report=f"r_{k}", a=k, b="b", direction="greater") for k in ("steady", "carried")]
    robust, fragile = claims.judge(cs, ev)
    assert (robust.verdict, fragile.verdict) == ("reproduced", "reproduced")
    assert (robust.robustness, robust.flipped_by) == ("robust", [])
    assert (fragile.robustness, fragile.flipped_by) == ("fragile", ["seed 2 (without it: inconclusive)"])
    table = claims.claims_table([robust, fragile])
    assert table.robustness.tolist() == ["robust", "fragile"]
    assert table.flipped_by.tolist() == ["", "seed 2 (without it: inconclusive)"]


def test_only_conclusive_verdicts_of_paired_tests_are_judged_for_robustness():
    noisy = [0.01, -0.02, 0.03, -0.01, 0.0]
    ev = evidence(runs_table({"b": BASE, "noisy": [x + d for x, d in zip(BASE, noisy)]}))
    inconclusive = judge_one(claim("difference", a="noisy", b="b", direction="greater"), ev)
    assert inconclusive.verdict == "inconclusive" and inconclusive.robustness is None
    number = judge_one(claim("number", run="b", value=0.6, metric="test_of_best_val"), ev)
    assert number.verdict == "reproduced" and number.robustness is None  # its own verdict, no paired tests
    assert claims.claims_table([inconclusive, number]).robustness.tolist() == ["", ""]
