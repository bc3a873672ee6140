import pytest
import torch
from torch import nn

from cnnstudy.nets.models import ARCHITECTURES, ModelConfigError, build_model, count_parameters, place_model

SHAPES = {
    "net1": (3, 64, 64),
    "net2": (3, 64, 64),
    "net3": (3, 64, 64),
    "lenet": (3, 32, 32),
    "vgg_cifar": (3, 32, 32),
    "alexnet_like": (3, 224, 224),
    "nin": (3, 32, 32),
    "mnist_cnn": (1, 28, 28),
    "mnist_gp": (1, 48, 48),
    "resnet18_tl": (3, 64, 64),
}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_builds_and_classifies(arch):
    torch.manual_seed(0)
    model = build_model(arch, SHAPES[arch], 7).eval()
    out = model(torch.randn(2, *SHAPES[arch]))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_placed_models_are_channels_last_and_compute_the_same_function(arch):
    torch.manual_seed(0)
    model = build_model(arch, SHAPES[arch], 7).eval()
    x = torch.randn(2, *SHAPES[arch])
    expected = model(x)
    placed = place_model(model, "cpu")
    convs = [m.weight for m in placed.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    torch.testing.assert_close(placed(x.contiguous(memory_format=torch.channels_last)), expected, rtol=1e-4, atol=1e-5)


def test_fc_input_comes_from_the_input_shape_not_a_constant():
    # seed 002 hard-coded 5408 (= 32*13*13), which fits 58x58 inputs, not its 64x64 images
    assert build_model("net1", (3, 64, 64), 5).head[0].in_features == 32 * 14 * 14
    assert build_model("net2", (3, 64, 64), 5).head[0].in_features == 32 * 16 * 16
    assert build_model("net3", (3, 64, 64), 5).head[0].in_features == 32 * 14 * 14
    assert build_model("net1", (3, 58, 58), 5).head[0].in_features == 5408


def test_net3_is_net1_plus_ten_convs():
    convs = lambda m: sum(isinstance(x, nn.Conv2d) for x in m.modules())  # noqa: E731
    assert convs(build_model("net1", (3, 64, 64), 5)) == 2
    assert convs(build_model("net3", (3, 64, 64), 5)) == 12


def test_seed003_parameter_counts():
    assert count_parameters(build_model("mnist_cnn", (1, 28, 28), 10)) == 29066
    assert count_parameters(build_model("mnist_gp", (1, 28, 28), 10)) == 29029


def test_global_pooling_model_takes_any_size():
    model = build_model("mnist_gp", (1, 32, 32), 10, global_pool="mean").eval()
    for s in (32, 48, 64):
        assert model(torch.randn(1, 1, s, s)).shape == (1, 10)


def test_switches_add_bn_and_dropout_layers():
    plain = build_model("lenet", (3, 32, 32), 10)
    both = build_model("lenet", (3, 32, 32), 10, bn=True, dropout=True, activation="leaky_relu", pool="avg", kernel=4)
    kinds = {type(m) for m in both.modules()}
    assert {nn.BatchNorm2d, nn.Dropout, nn.LeakyReLU, nn.AvgPool2d} <= kinds
    assert not {nn.BatchNorm2d, nn.Dropout} & {type(m) for m in plain.modules()}


def test_transfer_learning_freezes_backbone_and_optionally_bn():
    frozen = build_model("resnet18_tl", (3, 64, 64), 10, train_bn=False)
    trainable = build_model("resnet18_tl", (3, 64, 64), 10, train_bn=True)
    assert count_parameters(frozen, trainable_only=True) == 512 * 10 + 10
    assert count_parameters(trainable, trainable_only=True) > count_parameters(frozen, trainable_only=True)


def test_unknown_model_and_option_are_clear_errors():
    with pytest.raises(ModelConfigError, match="unknown model 'net9'.*net1"):
        build_model("net9", (3, 64, 64), 5)
    with pytest.raises(ModelConfigError, match="does not use option.*batchnorm.*its options are"):
        build_model("net1", (3, 64, 64), 5, batchnorm=True)
    with pytest.raises(ModelConfigError, match="conv_impl"):
        build_model("net1", (3, 64, 64), 5, conv_impl="fft")


@pytest.mark.parametrize(
    "arch,option",
    [
        ("mnist_cnn", {"dropout": True}),
        ("net1", {"pool": "avg"}),
        ("net1", {"kernel": 4}),
        ("lenet", {"padding": 1}),
        ("lenet", {"chain": 3}),
        ("resnet18_tl", {"bn": True}),
        ("resnet18_tl", {"dropout": True}),
        ("nin", {"kernel": 4}),
    ],
)
def test_an_option_the_architecture_does_not_use_is_an_error_not_a_no_op(arch, option):
    with pytest.raises(ModelConfigError, match=f"model '{arch}' does not use option.*{next(iter(option))}"):
        build_model(arch, SHAPES[arch], 5, **option)


def test_conv_impl_and_weights_only_where_the_model_uses_them():
    with pytest.raises(ModelConfigError, match="torchvision's convolutions"):
        build_model("resnet18_tl", (3, 64, 64), 5, conv_impl="unfold")
    with pytest.raises(ModelConfigError, match="takes no pretrained weights"):
        build_model("net1", (3, 64, 64), 5, weights="w.pth")
    with pytest.raises(ModelConfigError, match="must be one of"):
        build_model("lenet", (3, 32, 32), 5, pool="median")
    with pytest.raises(ModelConfigError, match="must be a bool"):
        build_model("lenet", (3, 32, 32), 5, bn="yes")


def test_every_default_option_changes_the_network_it_builds():
    """Each declared option is wired: flipping it from its default changes the module tree."""
    from cnnstudy.nets.architectures import ARCHITECTURES as SPECS
    from cnnstudy.nets.architectures import CHOICES

    for arch, spec in SPECS.items():
        base = str(build_model(arch, SHAPES[arch], 5))
        for name, default in spec.options.items():
            other = not default if isinstance(default, bool) else next(c for c in CHOICES[name] if c != default)
            changed = build_model(arch, SHAPES[arch], 5, **{name: other})
            if name == "train_bn":  # same modules; what differs is which parameters learn
                assert count_parameters(changed, trainable_only=True) != count_parameters(
                    build_model(arch, SHAPES[arch], 5), trainable_only=True
                )
            else:
                assert str(changed) != base, (arch, name)


def test_unreadable_pretrained_weights_name_their_file(tmp_path):
    bad = tmp_path / "resnet18-f37072fd.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelConfigError, match=f"{bad} is not readable resnet18 weights"):
        build_model("resnet18_tl", (3, 64, 64), 5, weights=str(bad))


# Layers whose backward on CUDA has no deterministic implementation: with the pipeline's
# default (deterministic: true) torch raises there (torch.use_deterministic_algorithms).
NO_DETERMINISTIC_CUDA_BACKWARD = (
    nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool3d, nn.AvgPool3d,
    nn.FractionalMaxPool2d, nn.FractionalMaxPool3d, nn.ReflectionPad2d, nn.Upsample,
)  # fmt: skip


def test_no_model_of_the_study_has_a_layer_without_a_deterministic_cuda_backward():
    from conftest import ROOT

    from cnnstudy import config as cc

    full = cc.load(ROOT / "config" / "config.yaml")
    for study, run, _ in cc.runs(full):
        r = cc.run_config(full, study, run, 0)
        model = build_model(r.arch, cc.input_shape(full, study, run), 10, conv_impl=r.conv_impl, **r.options)
        bad = [type(m).__name__ for m in model.modules() if isinstance(m, NO_DETERMINISTIC_CUDA_BACKWARD)]
        assert not bad, (study, run, bad)


@pytest.mark.parametrize("kind,adaptive", [("mean", nn.AdaptiveAvgPool2d(1)), ("max", nn.AdaptiveMaxPool2d(1))])
def test_global_pool_computes_what_the_adaptive_pool_did(kind, adaptive):
    from cnnstudy.nets.models import GlobalPool

    x = torch.randn(3, 5, 7, 9)
    torch.testing.assert_close(GlobalPool(kind)(x), adaptive(x))
