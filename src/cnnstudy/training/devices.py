"""Where a run computes, and in what precision, chosen explicitly and recorded.

A job the scheduler gave a GPU never trains on the CPU unseen: when CUDA is unusable there
(a CPU build of PyTorch, a driver older than the build, a card outside the build's
architectures) it fails naming the cause, unless the config says ``device: cpu``.
``precision: auto`` is bf16 autocast only where cuDNN has bf16 convolutions (compute
capability 8.0 and up), and TF32 is off in fp32 runs, so an "fp32" GPU run computes in fp32.
"""

from __future__ import annotations

import os
import platform

import torch

# How schedulers tell a job which GPUs it holds, and the values that mean "none".
GPU_VARIABLES = {
    "CUDA_VISIBLE_DEVICES": ("", "-1", "NoDevFiles"),
    "SLURM_JOB_GPUS": ("",),
    "SLURM_STEP_GPUS": ("",),
    "SLURM_GPUS_ON_NODE": ("", "0"),
}
BF16_CAPABILITY = (8, 0)  # Ampere: cuDNN's bf16 convolutions; below, bf16 is emulated (slow)


class DeviceError(RuntimeError):
    """The run cannot compute where it was asked to, or where the scheduler put it."""


def allocated_gpus() -> dict:
    """The scheduler's variables that say this job holds GPUs."""
    return {v: os.environ[v] for v, none in GPU_VARIABLES.items() if os.environ.get(v, "").strip() not in none}


def _built_for(capability: tuple, arch_list: list) -> bool:
    """Whether a build with ``arch_list`` (sm_XY kernels, compute_XY PTX) runs on ``capability``."""
    cap = capability[0] * 10 + capability[1]
    for arch in arch_list:
        kind, _, number = arch.partition("_")
        digits = int("".join(ch for ch in number if ch.isdigit()) or 0)
        if (kind == "sm" and digits == cap) or (kind == "compute" and digits <= cap):
            return True
    return False


def cuda_problem() -> str:
    """Why CUDA cannot be used in this process, or '' when it can."""
    if torch.version.cuda is None:
        return f"this PyTorch ({torch.__version__}) is a CPU build: install a CUDA build (envs/torch-gpu.yaml)"
    if not torch.cuda.is_available():
        try:
            torch.cuda.init()  # raises with the driver's reason (too old for this build, no device)
        except Exception as exc:  # noqa: BLE001 - its words are the diagnosis
            return f"PyTorch is built for CUDA {torch.version.cuda} but CUDA cannot start: {exc}"
        return f"PyTorch is built for CUDA {torch.version.cuda} but sees no usable GPU"
    capability, arch = torch.cuda.get_device_capability(), torch.cuda.get_arch_list()
    if not _built_for(capability, arch):
        return (
            f"{torch.cuda.get_device_name()} (compute capability {capability[0]}.{capability[1]}) is not among "
            f"this build's architectures {arch}: install a build for it (see README, older GPUs)"
        )
    return ""


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when usable, then MPS, then the CPU, except that a job holding a GPU
    fails rather than train on the CPU; ``cuda``/``cuda:N`` must be usable; others as given."""
    if name == "cpu":
        return torch.device("cpu")
    if name == "auto" or name.startswith("cuda"):
        problem = cuda_problem()
        if not problem:
            return torch.device("cuda" if name == "auto" else name)
        if name != "auto":
            raise DeviceError(f"device {name!r} was asked for, but {problem}")
        held = allocated_gpus()
        if held:
            raise DeviceError(f"the scheduler gave this job a GPU ({held}), but {problem}. Set device: cpu to train "
                              "on the CPU on purpose")  # fmt: skip
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def capability(device: torch.device) -> tuple | None:
    return torch.cuda.get_device_capability(device) if device.type == "cuda" else None


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 autocast on a GPU with bf16 convolutions, fp32 everywhere else."""
    if precision != "auto":
        return precision
    cap = capability(device)
    return "bf16" if cap is not None and cap >= BF16_CAPABILITY else "fp32"


def set_tf32(precision: str, device: torch.device) -> bool:
    """TF32 for matmuls and convolutions only in bf16 runs (its fp32 parts); off in fp32 runs.
    Returns whether TF32 computes anything here (Ampere and up)."""
    allowed = precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = allowed
    torch.backends.cudnn.allow_tf32 = allowed
    cap = capability(device)
    return allowed and cap is not None and cap >= BF16_CAPABILITY


def describe(device: torch.device) -> dict:
    """What a run records about where it computed."""
    cap = capability(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "device": str(device),
        "device_name": name,
        "capability": f"{cap[0]}.{cap[1]}" if cap else None,
        "cuda_build": torch.version.cuda,
    }
