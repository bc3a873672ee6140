"""The SLURM profile for real: the demo submitted job by job to a running SLURM."""

import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import ROOT
from test_pipeline import smk

pytestmark = pytest.mark.integration


def slurm_running() -> bool:
    if not shutil.which("sinfo"):
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except (subprocess.TimeoutExpired, OSError):
        return False
    return any(s in out for s in ("idle", "mix", "alloc"))


@pytest.mark.skipif(not slurm_running(), reason="no running SLURM (bash .ci/slurm-up starts one)")
def test_demo_runs_through_the_slurm_profile(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["seeds"] = [0]
    cfg["studies"] = {"coco5_nets": cfg["studies"]["coco5_nets"]}
    cfg["studies"]["coco5_nets"]["runs"] = {"net1": {"arch": "net1"}, "net2": {"arch": "net2"}}
    cfg["studies"]["coco5_nets"]["comparisons"] = [cfg["studies"]["coco5_nets"]["comparisons"][0]]
    cfg["studies"]["coco5_nets"]["training"].update(epochs=2)
    cfg["conv_tests"].update(timing_shapes=[[2, 3, 16, 16, 4, 3, 1, 0]], timing_repeats=1)
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(
        tmp_path,
        "results/tables/runs.csv",
        "--profile",
        str(ROOT / "profiles" / "slurm"),
        "--configfile",
        "test.yaml",
        "--slurm-no-account",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
    )
    out = proc.stdout + proc.stderr
    assert "submitted with SLURM jobid" in out
    runs = pd.read_csv(tmp_path / "results" / "tables" / "runs.csv")
    assert list(runs.model) == ["net1", "net2"] and (runs.status == "completed").all()
