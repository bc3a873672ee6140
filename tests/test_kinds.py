"""Claim kinds are a registry: a new kind is one entry, and the schema, the load-time checks,
the runs it names, the words and the judging all follow from it."""

import copy

import numpy as np
import pytest
from conftest import demo_config
from test_claims import BASE, claim, evidence, judge_one, runs_table

from cnnstudy import config as cc
from cnnstudy.judging import claims
from cnnstudy.judging.kinds import KINDS, ClaimKind
from cnnstudy.judging.statistics import PairedTest


def _below_tests(c, study):
    """The toy kind's one test: high - low per seed, claimed above zero."""
    low, high = c.spec["low"], c.spec["high"]
    values = study.values
    d = (values[high] - values[low]).dropna().to_numpy() if {low, high} <= set(values) else np.array([])
    return [PairedTest(c.id, f"{high} − {low}", d, "greater")]


TOY = ClaimKind(
    schema={"required": ["low", "high"], "properties": {"low": {"type": "string"}, "high": {"type": "string"}}},
    runs=lambda s: [s["low"], s["high"]],
    checked=lambda s, metric: f"{s['low']} below {s['high']}",
    tests=_below_tests,
    check=lambda s, known: "low and high are one run" if s["low"] == s["high"] else "",
)


@pytest.fixture
def toy_kind(monkeypatch):
    monkeypatch.setitem(KINDS, "below", TOY)


def _with_claim(**entry) -> tuple[dict, list]:
    """The demo config with a toy claim on a study; an int value stands for the study's run of that index."""
    cfg = demo_config()
    study = cfg["studies"]["mnist_cnn_sweeps"]
    runs = sorted(study["runs"])
    entry = {k: runs[v] if isinstance(v, int) else v for k, v in entry.items()}
    study.setdefault("claims", []).append({"id": "toy_below", "kind": "below", "quote": "it is lower", **entry})
    return cfg, runs


def test_a_kind_not_in_the_registry_is_refused_at_load():
    cfg, runs = _with_claim(low=0, high=1)
    with pytest.raises(cc.ConfigError, match="below"):
        cc.validate(cfg)


def test_a_toy_kind_is_one_entry_its_keys_checked_its_runs_cross_referenced(toy_kind):
    cfg, runs = _with_claim(low=0, high=1)
    cc.validate(copy.deepcopy(cfg))  # its keys came from the entry
    toy = next(c for c in cc.all_claims(cc.validate(copy.deepcopy(cfg))) if c.kind == "below")
    assert cc.claim_runs(toy) == [runs[0], runs[1]]
    missing, _ = _with_claim(low=0)
    with pytest.raises(cc.ConfigError, match="'high' is a required property"):
        cc.validate(missing)
    unknown, _ = _with_claim(low=0, high="no_such_run")
    with pytest.raises(cc.ConfigError, match="names run 'no_such_run'"):
        cc.validate(unknown)
    same, _ = _with_claim(low=0, high=0)
    with pytest.raises(cc.ConfigError, match="low and high are one run"):
        cc.validate(same)
    stray, _ = _with_claim(low=0, high=1, among=[2])  # another kind's key
    with pytest.raises(cc.ConfigError, match="among"):
        cc.validate(stray)


def test_a_toy_kind_is_judged_with_its_reports_holm_family_and_tabled(toy_kind):
    noise = [0.004, -0.003, 0.002, -0.001, 0.0]  # differences that vary: finite t statistics
    higher, lower = ([v + s * 0.05 + e for v, e in zip(BASE, noise)] for s in (1, -1))
    ev = evidence(runs_table({"a": BASE, "b": higher, "c": lower}))
    toy = claim("below", low="a", high="b")
    wrong = claim("below", cid="wrong_way", low="a", high="c")
    other = claim("difference", a="b", b="a", direction="greater")
    judged = claims.judge([toy, wrong, other], ev)
    assert [j.verdict for j in judged] == ["reproduced", "contradicted", "reproduced"]
    assert all(np.isfinite(j.tests[0].p_holm) for j in judged)
    assert judged[0].tests[0].p_holm > judged[0].tests[0].p  # adjusted within the report's three tests
    row = claims.claims_table(judged).iloc[0]
    assert (row.kind, row.checked, row.n) == ("below", "a below b", 5)
    assert "b − a: +0.0504" in row.evidence
    assert judge_one(claim("below", low="a", high="gone"), ev).verdict == "not run"
