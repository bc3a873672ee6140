"""Device and precision choices: explicit, failing with their cause, recorded."""

import pytest
import torch

from cnnstudy.training import devices
from cnnstudy.training.devices import DeviceError

NO_GPU = {v: "" for v in devices.GPU_VARIABLES}


@pytest.fixture
def no_cuda(monkeypatch):
    """This machine's situation, whatever it is: CUDA unusable (as on a GPU node whose driver is
    too old for the build)."""
    monkeypatch.setattr(devices, "cuda_problem", lambda: "PyTorch is built for CUDA 12.8 but CUDA cannot start: X")
    for var in devices.GPU_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    "env,held",
    [
        ({"CUDA_VISIBLE_DEVICES": "0"}, True),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, False),
        ({"CUDA_VISIBLE_DEVICES": ""}, False),
        ({"SLURM_JOB_GPUS": "3"}, True),
        ({"SLURM_GPUS_ON_NODE": "0"}, False),
        ({"SLURM_GPUS_ON_NODE": "1"}, True),
    ],
)
def test_a_gpu_allocation_is_read_from_the_schedulers_variables(monkeypatch, env, held):
    for var, value in {**NO_GPU, **env}.items():
        monkeypatch.setenv(var, value)
    assert bool(devices.allocated_gpus()) == held


def test_a_job_holding_a_gpu_fails_naming_the_cause_instead_of_training_on_the_cpu(no_cuda):
    assert devices.pick_device("auto") == torch.device("cpu")  # no GPU allocated: the CPU, as asked
    no_cuda.setenv("SLURM_JOB_GPUS", "0")
    with pytest.raises(
        DeviceError, match=r"gave this job a GPU \({'SLURM_JOB_GPUS': '0'}\).*cannot start: X.*device: cpu"
    ):
        devices.pick_device("auto")
    assert devices.pick_device("cpu") == torch.device("cpu")  # said on purpose
    with pytest.raises(DeviceError, match="device 'cuda' was asked for, but .*cannot start"):
        devices.pick_device("cuda")


def test_the_real_cause_is_named_on_this_machine():
    problem = devices.cuda_problem()
    if torch.cuda.is_available():
        pytest.skip("a usable GPU is here")
    assert problem and ("CPU build" in problem or "CUDA" in problem)


def test_a_cpu_build_of_pytorch_is_named_as_such(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "is a CPU build: install a CUDA build (envs/torch-gpu.yaml)" in devices.cuda_problem()


@pytest.mark.parametrize(
    "capability,arch,runs",
    [
        ((7, 0), ["sm_80", "sm_90"], False),  # a V100 on a build for Ampere and newer
        ((6, 0), ["sm_75", "sm_80", "compute_80"], False),  # PTX for 8.0 does not run on 6.0
        ((8, 6), ["sm_80", "sm_86"], True),
        ((9, 0), ["sm_80", "compute_80"], True),  # PTX compiles forward
        ((9, 0), ["sm_90a"], True),
    ],
)
def test_a_card_outside_the_builds_architectures_is_detected(capability, arch, runs):
    assert devices._built_for(capability, arch) is runs


@pytest.mark.parametrize("capability,expected", [(None, "fp32"), ((7, 5), "fp32"), ((8, 0), "bf16"), ((9, 0), "bf16")])
def test_auto_precision_is_bf16_only_where_cudnn_has_bf16_convolutions(monkeypatch, capability, expected):
    monkeypatch.setattr(devices, "capability", lambda device: capability)
    assert devices.resolve_precision("auto", torch.device("cpu")) == expected
    assert devices.resolve_precision("fp32", torch.device("cpu")) == "fp32"


def test_tf32_is_off_in_fp32_runs(monkeypatch):
    monkeypatch.setattr(devices, "capability", lambda device: (9, 0))
    assert devices.set_tf32("fp32", torch.device("cpu")) is False
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert devices.set_tf32("bf16", torch.device("cpu")) is True
    assert torch.backends.cudnn.allow_tf32
    devices.set_tf32("fp32", torch.device("cpu"))
