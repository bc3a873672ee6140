"""Local runs count GPUs the way the README says: with --resources gpu=1 two whole-GPU training
jobs never run at once, and runs under resources.train.share count against gpu_shard instead,
so --resources gpu=1 gpu_shard=2 runs two of them at the same time. Read from Snakemake's own
log (each job's start and its "Finished jobid" line), on the demo's data, on the CPU."""

import re

import pytest
import yaml
from conftest import demo_config, smk

pytestmark = pytest.mark.integration


def most_at_once(log: str, rule: str = "train") -> int:
    """The most jobs of ``rule`` running at the same moment, from Snakemake's log."""
    running, most = set(), 0
    events = r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    jobid: (\d+)|^Finished jobid: (\d+)"
    for started_rule, started, finished in (m.groups() for m in re.finditer(events, log, re.M)):
        if started and started_rule == rule:
            running.add(started)
        running.discard(finished)
        most = max(most, len(running))
    return most


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    work = tmp_path_factory.mktemp("gpus")
    cfg = demo_config()
    cfg["select"] = ["coco5_nets/net1", "coco5_nets/net2"]
    cfg["studies"]["coco5_nets"].update(seeds=[0])
    cfg["studies"]["coco5_nets"]["training"].update(epochs=4)
    cfg["conv_tests"].update(timing_shapes=[[2, 3, 16, 16, 4, 3, 1, 0]], timing_repeats=1)
    cfg["resources"]["train"].update(gpus=1)  # the demo trains on the CPU (device: cpu) whatever it asks for
    smk_config(work, cfg)
    smk(work, "results/conv/cases.csv", "results/datasets/coco5/data.pt", "--cores", "2", "--configfile", "test.yaml")
    return work, cfg


def _log(proc) -> str:
    return proc.stdout + proc.stderr


def smk_config(work, cfg) -> None:
    (work / "test.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_whole_gpu_jobs_wait_for_the_one_gpu_and_sharing_jobs_share_it(prepared):
    work, cfg = prepared
    target = ["results/tables/runs.csv", "--cores", "2", "--configfile", "test.yaml"]
    whole = _log(smk(work, *target, "--resources", "gpu=1"))
    assert whole.count("localrule train:") == 2 and most_at_once(whole) == 1
    cfg["resources"]["train"]["share"] = ["coco5_nets"]
    smk_config(work, cfg)
    shared = _log(smk(work, *target, "--resources", "gpu=1", "gpu_shard=2", "--forcerun", "train"))
    assert shared.count("localrule train:") == 2 and most_at_once(shared) == 2
    assert re.search(r"resources: .*gpu=0.*gpu_shard=1", shared)  # what each sharing job asked for
