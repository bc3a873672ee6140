"""Checks made when the workflow loads: hostile YAML and an unwritable results folder."""

import os
import subprocess
import sys
import time

import pytest
import yaml
from conftest import ROOT, demo_config, smk

from cnnstudy import config as cc
from cnnstudy import preflight
from cnnstudy.preflight import PreflightError


def bomb(levels: int = 9) -> str:
    """Nested anchors: 9 levels of 9 aliases are 9**9 values once expanded, in 40 lines of YAML."""
    parts = ["&l0 [x, x, x, x, x, x, x, x, x]"] + [
        f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)
    ]
    return "[" + ", ".join(parts) + "]"


def demo_text(**replace) -> str:
    text = yaml.safe_dump(demo_config(), sort_keys=False, allow_unicode=True)
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


TITLE = "title: COCO 5-class — net1, net2 (padding), net3 (deep)"
NET1 = "      net1:\n        arch: net1\n"


def test_an_alias_bomb_is_refused_naming_its_key_in_linear_time(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(demo_text(**{TITLE: "title: " + bomb()}))
    tick = time.perf_counter()
    with pytest.raises(PreflightError, match=r"studies/coco5_nets/title expands to [\d,]+ values through YAML alias"):
        preflight.check_config_file(path)
    assert time.perf_counter() - tick < 1.0


def test_a_key_given_twice_is_refused_naming_it_and_its_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(demo_text(**{NET1: NET1 + "      net1:\n        arch: net3\n"}))
    assert yaml.safe_load(path.read_text())["studies"]["coco5_nets"]["runs"]["net1"]["arch"] == "net3"  # silently
    with pytest.raises(PreflightError, match=r"line \d+: studies/coco5_nets/runs/net1 is given twice in one mapping"):
        preflight.check_config_file(path)


def test_small_aliases_a_recursive_alias_and_the_shipped_configs(tmp_path):
    ok = tmp_path / "ok.yaml"
    ok.write_text("base: &b {lr: 0.1}\nruns: {a: *b, b: *b}\n")
    preflight.check_config_file(ok)  # anchors are fine where they stay small
    loop = tmp_path / "loop.yaml"
    loop.write_text("a: &x [1, *x]\n")
    with pytest.raises(PreflightError, match=": a/1 refers to itself through a YAML alias"):
        preflight.check_config_file(loop)
    for name in ("config.yaml", "demo.yaml"):
        preflight.check_config_file(ROOT / "config" / name)


def test_validation_messages_never_quote_an_unbounded_value():
    cfg = demo_config()
    cfg["studies"]["coco5_nets"]["title"] = "x" * 100_000
    with pytest.raises(cc.ConfigError) as err:
        cc.validate(cfg)
    assert len(str(err.value)) < 1000 and "(100," in str(err.value)


def test_an_unwritable_results_folder_is_named(tmp_path):
    taken = tmp_path / "a_file"
    taken.write_text("")
    with pytest.raises(PreflightError, match=f"cannot write to {taken}.*every output of the pipeline goes there"):
        preflight.check_writable(taken / "results")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code = (
        "import os, sys; from cnnstudy import preflight\n"
        "os.setgid(65534); os.setuid(65534)\n"
        * (os.geteuid() == 0)  # root writes anywhere: check as nobody
        + "preflight.check_writable(sys.argv[1])"
    )
    os.chmod(tmp_path, 0o755)
    proc = subprocess.run([sys.executable, "-c", code, str(locked / "results")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert proc.returncode != 0 and "Permission denied" in proc.stderr and str(locked) in proc.stderr, proc.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    "replace,message",
    [
        ({TITLE: "title: " + bomb()}, "studies/coco5_nets/title expands to"),
        ({NET1: NET1 + "      net1:\n        arch: net3\n"}, "studies/coco5_nets/runs/net1 is given twice"),
    ],
    ids=["alias bomb", "duplicated run"],
)
def test_the_dry_run_fails_in_seconds_naming_the_key(tmp_path, replace, message):
    (tmp_path / "hostile.yaml").write_text(demo_text(**replace))
    tick = time.perf_counter()
    proc = smk(tmp_path, "-n", "--configfile", "hostile.yaml", check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr
    assert time.perf_counter() - tick < 10
