"""One model factory for every network of the study.

Regularization and implementation choices are switches (``bn``, ``dropout``, ``conv_impl``,
``pool``, ``activation`` ...), not classes per variant. Fully connected input sizes are
always measured by a dummy forward pass on the real input shape: seed 002's hard-coded 5408
does not match its own 64x64 images.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from cnnstudy.nets.architectures import ARCHITECTURES, ModelConfigError, resolve_options
from cnnstudy.nets.conv import Conv2d as UnfoldConv2d

__all__ = ["ARCHITECTURES", "ModelConfigError", "build_model", "count_parameters"]


def _conv_factory(conv_impl: str) -> Callable[..., nn.Module]:
    if conv_impl == "torch":
        return nn.Conv2d
    if conv_impl == "unfold":
        return UnfoldConv2d
    raise ModelConfigError(f"conv_impl must be 'torch' or 'unfold', got {conv_impl!r}")


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(0.01)
    raise ModelConfigError(f"activation must be 'relu' or 'leaky_relu', got {name!r}")


def _flat_features(features: nn.Module, in_shape) -> int:
    with torch.no_grad():
        was_training = features.training
        features.eval()
        n = features(torch.zeros(1, *in_shape)).flatten(1).shape[1]
        features.train(was_training)
    return n


class GlobalPool(nn.Module):
    """Global average or max pooling over H and W, as a reduction (``mean``, ``amax``). The
    same numbers as ``nn.AdaptiveAvgPool2d(1)`` / ``AdaptiveMaxPool2d(1)``, but on CUDA their
    backward has no deterministic implementation (deterministic runs would stop there), while
    a reduction's backward is elementwise."""

    def __init__(self, kind: str):
        super().__init__()
        if kind not in ("mean", "max"):
            raise ModelConfigError(f"global pooling must be 'mean' or 'max', got {kind!r}")
        self.kind = kind

    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True) if self.kind == "mean" else x.amax(dim=(2, 3), keepdim=True)

    def extra_repr(self) -> str:
        return self.kind


class Classifier(nn.Module):
    """features -> flatten -> head; keeps the conv trunk addressable for visualizations."""

    def __init__(self, features: nn.Module, head: nn.Module):
        super().__init__()
        self.features, self.head = features, head

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


def _hw4net(in_shape, num_classes, conv, *, padding, chain, bn, dropout, activation):
    """Seed 002: net1 (padding 0), net2 (padding 1), net3 (net1 + chain of 10 convs)."""
    c = in_shape[0]
    layers = [conv(c, 16, 3, padding=padding)]
    layers += [nn.BatchNorm2d(16)] if bn else []
    layers += [_activation(activation), nn.MaxPool2d(2, 2), conv(16, 32, 3, padding=padding)]
    layers += [nn.BatchNorm2d(32)] if bn else []
    layers += [_activation(activation), nn.MaxPool2d(2, 2)]
    for _ in range(chain):
        layers += [conv(32, 32, 3, padding=1)] + ([nn.BatchNorm2d(32)] if bn else []) + [_activation(activation)]
    features = nn.Sequential(*layers)
    n = _flat_features(features, in_shape)
    head = [nn.Linear(n, 64), _activation(activation)]
    head += [nn.Dropout(0.5)] if dropout else []
    return Classifier(features, nn.Sequential(*head, nn.Linear(64, num_classes)))


def _lenet(in_shape, num_classes, conv, *, bn, dropout, pool, kernel, activation):
    """Seeds 000/001: LeNet-5 for 3-channel input with the reports' options."""
    Pool = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
    layers = []
    for cin, cout in ((in_shape[0], 6), (6, 16)):
        layers += [conv(cin, cout, kernel)] + ([nn.BatchNorm2d(cout)] if bn else [])
        layers += [_activation(activation), Pool(2, 2)]
    features = nn.Sequential(*layers)
    n = _flat_features(features, in_shape)
    head = []
    for fin, fout in ((n, 120), (120, 84)):
        head += [nn.Linear(fin, fout)] + ([nn.BatchNorm1d(fout)] if bn else []) + [_activation(activation)]
        head += [nn.Dropout(0.5)] if dropout else []
    return Classifier(features, nn.Sequential(*head, nn.Linear(84, num_classes)))


def _vgg_cifar(in_shape, num_classes, conv, *, bn, dropout, activation):
    """Seed 001 "Net": three double-conv blocks with BN, maxpool and Dropout2d 0.05."""
    layers, cin = [], in_shape[0]
    for a, b in ((32, 64), (128, 128), (256, 256)):
        for cout in (a, b):
            layers += [conv(cin, cout, 3, padding=1)] + ([nn.BatchNorm2d(cout)] if bn else [])
            layers += [_activation(activation)]
            cin = cout
        layers += [nn.MaxPool2d(2, 2)] + ([nn.Dropout2d(0.05)] if dropout else [])
    features = nn.Sequential(*layers)
    n = _flat_features(features, in_shape)
    head = []
    for fin, fout in ((n, 4096), (4096, 1024), (1024, 512)):
        head += [nn.Dropout(0.1)] if dropout else []
        head += [nn.Linear(fin, fout), _activation(activation)]
    return Classifier(features, nn.Sequential(*head, nn.Linear(512, num_classes)))


def _alexnet_like(in_shape, num_classes, conv, *, bn, dropout, activation):
    """Seed 004 (a): AlexNet-style trunk; BN after the group of three 3x3 convs."""
    c = in_shape[0]
    layers = [conv(c, 96, 11, stride=4, padding=1), _activation(activation), nn.MaxPool2d(3, 2)]
    layers += [conv(96, 256, 5, padding=2), _activation(activation), nn.MaxPool2d(3, 2)]
    layers += [conv(256, 384, 3, padding=1), _activation(activation)]
    layers += [conv(384, 384, 3, padding=1), _activation(activation)]
    layers += [conv(384, 256, 3, padding=1)] + ([nn.BatchNorm2d(256)] if bn else [])
    layers += [_activation(activation), nn.MaxPool2d(3, 2)]
    features = nn.Sequential(*layers)
    n = _flat_features(features, in_shape)
    drop = [nn.Dropout(0.5)] if dropout else []
    head = [nn.Linear(n, 4096), _activation(activation), *drop, nn.Linear(4096, 4096), _activation(activation)]
    head += [nn.Dropout(0.5)] if dropout else []
    return Classifier(features, nn.Sequential(*head, nn.Linear(4096, num_classes)))


def _nin(in_shape, num_classes, conv, *, bn, dropout, activation):
    """Seed 004 (b): Network in Network blocks and global average pooling (no fc)."""

    def block(cin, cout, k, s, p):
        out = []
        for a, kk, ss, pp in ((cin, k, s, p), (cout, 1, 1, 0), (cout, 1, 1, 0)):
            out += [conv(a, cout, kk, stride=ss, padding=pp)] + ([nn.BatchNorm2d(cout)] if bn else [])
            out += [_activation(activation)]
        return out

    layers = block(in_shape[0], 96, 5, 3, 2) + [nn.MaxPool2d(3, 2)]
    layers += block(96, 256, 3, 1, 2) + [nn.MaxPool2d(3, 2)]
    layers += ([nn.Dropout(0.5)] if dropout else []) + block(256, num_classes, 3, 1, 1)
    layers += [GlobalPool("mean")]
    return Classifier(nn.Sequential(*layers), nn.Identity())


def _mnist_cnn(in_shape, num_classes, conv, *, bn, activation, last=64, global_pool=None):
    """Seed 003: three conv(k3, p1)+maxpool stages; fc 576->10 (29,066 parameters)."""
    layers, cin = [], in_shape[0]
    for cout in (16, 32, last):
        layers += [conv(cin, cout, 3, padding=1)] + ([nn.BatchNorm2d(cout)] if bn else [])
        layers += [_activation(activation), nn.MaxPool2d(2, 2)]
        cin = cout
    if global_pool is not None:
        layers += [GlobalPool(global_pool)]
    features = nn.Sequential(*layers)
    return Classifier(features, nn.Linear(_flat_features(features, in_shape), num_classes))


def _mnist_gp(in_shape, num_classes, conv, *, bn, activation, global_pool):
    """Seed 003: same trunk with 81 last channels and global pooling: any input size."""
    return _mnist_cnn(in_shape, num_classes, conv, bn=bn, activation=activation, last=81, global_pool=global_pool)


def _resnet18_tl(in_shape, num_classes, conv, *, train_bn, weights):
    """Seed 000 task 3: ImageNet resnet18, backbone frozen, new fc; BN frozen or trainable.

    ``weights`` is the path of the downloaded torchvision checkpoint (the download stage
    fetches and verifies it): nothing is fetched from a hub at run time.
    """
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    if weights:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - truncated or not a state dict
            raise ModelConfigError(f"{weights} is not readable resnet18 weights ({exc}); delete it and rerun") from exc
        net.load_state_dict(state)
    for p in net.parameters():
        p.requires_grad = False
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d) and train_bn:
            for p in m.parameters():
                p.requires_grad = True
    net.fc = nn.Linear(net.fc.in_features, num_classes)
    net.avgpool = GlobalPool("mean")  # deterministic backward on CUDA (see GlobalPool); no weights
    net.bn_frozen = not train_bn  # read by the training loop to keep BN in eval mode
    return net


BUILDERS = {
    "net1": partial(_hw4net, padding=0, chain=0),
    "net2": partial(_hw4net, padding=1, chain=0),
    "net3": partial(_hw4net, padding=0, chain=10),
    "lenet": _lenet,
    "vgg_cifar": _vgg_cifar,
    "alexnet_like": _alexnet_like,
    "nin": _nin,
    "mnist_cnn": _mnist_cnn,
    "mnist_gp": _mnist_gp,
    "resnet18_tl": _resnet18_tl,
}
assert BUILDERS.keys() == ARCHITECTURES.keys()


def build_model(
    arch: str, in_shape, num_classes: int, *, conv_impl: str = "torch", weights: str | None = None, **options
) -> nn.Module:
    """Build ``arch`` for inputs of shape ``in_shape`` (C, H, W) and ``num_classes`` outputs.

    ``options`` override the architecture's defaults (``architectures.ARCHITECTURES``); one
    it does not use is an error, as is ``conv_impl`` or ``weights`` on a model without them.
    """
    resolved = resolve_options(arch, options)
    spec = ARCHITECTURES[arch]
    if conv_impl != "torch" and not spec.hand_written_conv:
        raise ModelConfigError(
            f"model {arch!r} uses torchvision's convolutions: conv_impl {conv_impl!r} would change nothing"
        )
    if weights and not spec.pretrained:
        raise ModelConfigError(f"model {arch!r} takes no pretrained weights")
    extra = {"weights": weights} if spec.pretrained else {}
    return BUILDERS[arch](tuple(in_shape), num_classes, _conv_factory(conv_impl), **resolved, **extra)


def place_model(model: torch.nn.Module, device) -> torch.nn.Module:
    """The model on the device, channels-last (NHWC) on every device: cuDNN's tensor-core
    kernels want it, and on a 2-core CPU it made 21 of the study's 25 run shapes faster
    (1.1-1.5x; small LeNets with BatchNorm were 0.8-1.0x)."""
    return model.to(device, memory_format=torch.channels_last)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
