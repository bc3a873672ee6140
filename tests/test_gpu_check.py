"""The one-shot GPU check, run on the CPU at a tiny scale so that it cannot rot: every step
runs and writes what it measured, and the killed run resumes to the uninterrupted numbers."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.integration


def test_gpu_check_runs_every_step_on_the_cpu_and_writes_one_folder(tmp_path):
    out = tmp_path / "gpu_check"
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--quick", str(out)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=1500)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("device.txt", "train_benchmark.txt", "concurrent.txt", "projection.txt", "kill_resume.txt"):
        assert (out / name).stat().st_size > 0, name
    assert "faster" in (out / "train_benchmark.txt").read_text()  # ours against the reports' loop
    concurrent = (out / "concurrent.txt").read_text()
    assert "K=1:" in concurrent and "K=2:" in concurrent and "x one process" in concurrent
    assert (out / "projection" / "projection.csv").exists()
    assert "kill and resume: identical" in (out / "kill_resume.txt").read_text()
