"""The SLURM profile for real: the demo submitted to a running one-node SLURM."""

import math
import re
import shutil
import subprocess
import time

import pandas as pd
import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, demo_config

pytestmark = pytest.mark.integration


def slurm_running() -> bool:
    if not shutil.which("sinfo"):
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except (subprocess.TimeoutExpired, OSError):
        return False
    return any(s in out for s in ("idle", "mix", "alloc"))


def cancel_first_running_training_job(proc, deadline: float) -> str:
    """scancel the first training job SLURM runs (as a node failure or preemption would end it)."""
    while proc.poll() is None and time.time() < deadline:
        queue = subprocess.run(["squeue", "-h", "-o", "%i %T %k"], capture_output=True, text=True).stdout
        for line in queue.splitlines():
            job, state, comment = (line.split(None, 2) + ["", ""])[:3]
            if state == "RUNNING" and comment.startswith("rule_train"):
                time.sleep(1)
                subprocess.run(["scancel", job], check=True)
                return job
        time.sleep(0.5)
    raise AssertionError("no training job ran under SLURM")


@pytest.mark.skipif(not slurm_running(), reason="no running SLURM (bash .ci/slurm-up starts one)")
def test_demo_runs_through_the_slurm_profile(tmp_path):
    cfg = demo_config()
    cfg["select"] = ["coco5_nets/net1", "coco5_nets/net3"]  # net3 (deep) takes about twice net1's time
    cfg["studies"]["coco5_nets"].update(seeds=[0])
    cfg["studies"]["coco5_nets"]["training"].update(epochs=3)
    cfg["conv_tests"].update(timing_shapes=[[2, 3, 16, 16, 4, 3, 1, 0]], timing_repeats=1)
    # .ci/slurm-up's node has one (count-only) GPU; each job asks for its measured time x 60 (at least a minute)
    cfg["resources"]["train"].update(gpus=1, mem_mb=1500, runtime=20, runtime_margin=60, runtime_floor=1, mem_floor=256)
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(cfg))
    log = tmp_path / "snakemake.log"
    profile = ["--profile", str(ROOT / "profiles" / "slurm"), "--configfile", "test.yaml", "--slurm-no-account",
               "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2"]  # fmt: skip
    # first the measurement (as the README says to), then the study: each training job asks for its measured time
    measured = subprocess.run([*SNAKEMAKE, "results/performance/projection.csv", *profile], cwd=tmp_path,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
    assert measured.returncode == 0, measured.stdout[-3000:] + measured.stderr[-3000:]
    args = ["results/tables/runs.csv", *profile, "--verbose"]
    with open(log, "w") as out:
        proc = subprocess.Popen([*SNAKEMAKE, *args], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        cancelled = cancel_first_running_training_job(proc, time.time() + 600)
        assert proc.wait(timeout=900) == 0, log.read_text()[-6000:]
    text = log.read_text()
    calls = re.findall(r"sbatch call: (.*)", text)
    train = [c for c in calls if "rule_train" in c]
    assert len(train) == 3, train  # net1 and net3, then the cancelled one again
    mem = lambda call: int(re.search(r"--mem (\d+)", call).group(1))  # noqa: E731
    minutes = lambda call: int(re.search(r"-t '?(\d+)", call).group(1))  # noqa: E731
    for call in train:
        for flag in ("--gpus=1", "--cpus-per-task=1", "--requeue"):
            assert flag in call, (flag, call)
        assert "--array" not in call  # see profiles/slurm/config.yaml
    first, retry = train[:2], train[2]
    model = lambda call: re.search(r"net[13]", call).group(0)  # noqa: E731
    asked = {model(c): minutes(c) for c in first}
    projected = pd.read_csv(tmp_path / "results" / "performance" / "projection.csv").set_index("run")
    for run, want in asked.items():  # measured time x margin, at least the floor, at most the cap
        assert want == min(20, max(1, math.ceil(projected.seconds_per_seed[run] * 60 / 60))), (run, asked)
    assert asked["net1"] < asked["net3"], asked  # two runs of different size: different --time lines
    memory = {model(c): mem(c) for c in first}
    for run, want in memory.items():  # measured memory x 1.5 (mem_margin), at least the floor, at most the cap
        assert want == min(1500, max(256, math.ceil(projected.memory_mb[run] * 1.5))), (run, memory)
    assert mem(retry) == 2 * memory[model(retry)] and minutes(retry) == 2 * asked[model(retry)]  # twice both
    assert not [c for c in calls if re.search(r"rule_(download|extract|aggregate|answers|front_page)", c)]
    assert re.search(r"localrule (download|extract|aggregate)", text)  # light rules ran where Snakemake runs
    assert cancelled
    runs = pd.read_csv(tmp_path / "results" / "tables" / "runs.csv")
    assert list(runs.model) == ["net1", "net3"] and (runs.status == "completed").all()


def most_training_jobs_running_at_once(proc, deadline: float) -> int:
    """Poll squeue while Snakemake runs: the most training jobs RUNNING at the same moment."""
    most = 0
    while proc.poll() is None and time.time() < deadline:
        queue = subprocess.run(["squeue", "-h", "-o", "%T %k"], capture_output=True, text=True).stdout
        most = max(most, sum(line.startswith("RUNNING rule_train") for line in queue.splitlines()))
        time.sleep(0.3)
    return most


@pytest.mark.skipif(not slurm_running(), reason="no running SLURM (bash .ci/slurm-up starts one)")
def test_runs_that_share_a_gpu_ask_for_shards_and_run_at_once_on_the_one_gpu(tmp_path):
    if "shard" not in subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True).stdout:
        pytest.skip("this SLURM declares no gres/shard (.ci/slurm-up does)")
    cfg = demo_config()
    cfg["select"] = ["coco5_nets/net1", "coco5_nets/net2"]
    cfg["studies"]["coco5_nets"].update(seeds=[0])
    cfg["studies"]["coco5_nets"]["training"].update(epochs=6)
    cfg["conv_tests"].update(timing_shapes=[[2, 3, 16, 16, 4, 3, 1, 0]], timing_repeats=1)
    # the node has one (count-only) GPU cut into 4 shards: two sharing jobs fit on it at once
    cfg["resources"]["train"].update(gpus=1, mem_mb=1500, runtime=20, share=["coco5_nets"], shards=1)
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(cfg))
    profile = ["--profile", str(ROOT / "profiles" / "slurm"), "--configfile", "test.yaml", "--slurm-no-account",
               "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2"]  # fmt: skip
    prepared = subprocess.run([*SNAKEMAKE, "results/conv/cases.csv", "results/datasets/coco5/data.pt", *profile],
                              cwd=tmp_path, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert prepared.returncode == 0, prepared.stdout[-3000:] + prepared.stderr[-3000:]
    log = tmp_path / "snakemake.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([*SNAKEMAKE, "results/tables/runs.csv", *profile, "--verbose"], cwd=tmp_path,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        at_once = most_training_jobs_running_at_once(proc, time.time() + 900)
        assert proc.wait(timeout=900) == 0, log.read_text()[-6000:]
    train = [c for c in re.findall(r"sbatch call: (.*)", log.read_text()) if "rule_train" in c]
    assert len(train) == 2 and all("--gres=shard:1" in c and "--gpus" not in c for c in train), train
    assert at_once == 2  # both on the one GPU at the same time
    runs = pd.read_csv(tmp_path / "results" / "tables" / "runs.csv")
    assert sorted(runs.model) == ["net1", "net2"] and (runs.status == "completed").all()
