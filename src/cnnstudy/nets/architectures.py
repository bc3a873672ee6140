"""What each architecture of the model factory accepts: its options and their defaults.

Torch-free on purpose: the config validator reads it when the workflow loads, so a switch
that an architecture does not use is rejected at ``snakemake -n``, before any job runs, and
planning the study does not pay for importing torch. ``models.build_model`` takes its
defaults from here, so this table is the one source of truth for every model option.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVATIONS = ("relu", "leaky_relu")


@dataclass(frozen=True)
class Architecture:
    """An architecture's options (name -> default), and the run keys it takes beyond them."""

    options: dict = field(default_factory=dict)
    hand_written_conv: bool = True  # conv_impl: unfold swaps its convolutions
    pretrained: bool = False  # takes downloaded weights (the run's ``pretrained`` key)
    description: str = ""


_BN_DROPOUT = {"bn": False, "dropout": False, "activation": "relu"}

ARCHITECTURES: dict[str, Architecture] = {
    "net1": Architecture(dict(_BN_DROPOUT), description="seed 002 HW4Net: two 3x3 convs, no padding"),
    "net2": Architecture(dict(_BN_DROPOUT), description="net1 with padding 1"),
    "net3": Architecture(dict(_BN_DROPOUT), description="net1 plus a chain of ten 3x3 convs"),
    "lenet": Architecture(
        {**_BN_DROPOUT, "pool": "max", "kernel": 5}, description="LeNet-5 for 3 channels (seeds 000, 001)"
    ),
    "vgg_cifar": Architecture({**_BN_DROPOUT, "bn": True, "dropout": True}, description="seed 001 'Net'"),
    "alexnet_like": Architecture({**_BN_DROPOUT, "dropout": True}, description="seed 004 (a)"),
    "nin": Architecture({**_BN_DROPOUT, "bn": True, "dropout": True}, description="seed 004 (b), Network in Network"),
    # seed 003's CNN has no dropout layer: a dropout switch on it would change nothing
    "mnist_cnn": Architecture({"bn": False, "activation": "relu"}, description="seed 003, 29,066 parameters"),
    "mnist_gp": Architecture(
        {"bn": False, "activation": "relu", "global_pool": "max"}, description="seed 003, global pooling, any size"
    ),
    # torchvision's resnet18: its BN layers exist already (train_bn decides whether they learn)
    "resnet18_tl": Architecture(
        {"train_bn": False}, hand_written_conv=False, pretrained=True, description="seed 000 task 3"
    ),
}
# Allowed values of the options that are not booleans or integers.
CHOICES = {"activation": ACTIVATIONS, "pool": ("max", "avg"), "global_pool": ("max", "mean"), "kernel": (4, 5)}


class ModelConfigError(ValueError):
    """An unknown architecture, or an option it does not use or a value it does not take."""


def resolve_options(arch: str, options: dict) -> dict:
    """The architecture's defaults overridden by ``options``; an option it does not use is an error."""
    if arch not in ARCHITECTURES:
        raise ModelConfigError(f"unknown model {arch!r}; known models: {sorted(ARCHITECTURES)}")
    accepted = ARCHITECTURES[arch].options
    unused = sorted(set(options) - set(accepted))
    if unused:
        raise ModelConfigError(
            f"model {arch!r} does not use option(s) {unused}; its options are {sorted(accepted) or 'none'}"
        )
    for name, value in options.items():
        default = accepted[name]
        if name in CHOICES and value not in CHOICES[name]:
            raise ModelConfigError(
                f"option {name!r} of model {arch!r} must be one of {list(CHOICES[name])}, got {value!r}"
            )
        if type(value) is not type(default):
            raise ModelConfigError(
                f"option {name!r} of model {arch!r} must be a {type(default).__name__}, got {value!r}"
            )
    return {**accepted, **options}
