import pytest
import torch
import torch.nn.functional as F

from cnnstudy.nets.models import build_model
from cnnstudy.report import interpret
from cnnstudy.training.inputs import Normalizer


def test_cam_of_a_global_average_pooling_model_is_exact():
    torch.manual_seed(0)
    model = build_model("mnist_gp", (1, 32, 32), 10, global_pool="mean").eval()
    x = torch.randn(1, 1, 32, 32)
    fc = model.head
    with torch.no_grad():
        logits = model(x)[0]
        a = model.features[:-1](x)[0]
    for target in (0, 3, 7):
        method, cam = interpret.class_activation_map(model, x, target)
        raw = torch.einsum("k,khw->hw", fc.weight[target].detach(), a)
        assert method == "CAM" and cam.shape == (32, 32)
        # the class map's spatial mean is the logit, less the bias
        assert (raw.mean() + fc.bias[target]).item() == pytest.approx(logits[target].item(), abs=1e-4)
        torch.testing.assert_close(cam, F.interpolate(raw[None, None], size=(32, 32), mode="bilinear")[0, 0])


def test_nin_cam_is_the_class_channel():
    torch.manual_seed(0)
    model = build_model("nin", (3, 32, 32), 10).eval()
    x = torch.randn(1, 3, 32, 32)
    method, cam = interpret.class_activation_map(model, x, 4)
    with torch.no_grad():
        channel = model.features[:-1](x)[0, 4]
        assert method == "CAM"
        assert channel.mean().item() == pytest.approx(model(x)[0, 4].item(), abs=1e-4)
    torch.testing.assert_close(cam, F.interpolate(channel[None, None], size=(32, 32), mode="bilinear")[0, 0])


def test_grad_cam_is_the_relu_of_the_class_channel_when_the_last_conv_feeds_gap(monkeypatch):
    # nin without BN/dropout ends conv -> ReLU -> global average pooling -> logits, so the
    # Grad-CAM weights are zero but for the target channel: Grad-CAM ∝ ReLU(A_target)
    torch.manual_seed(1)
    model = build_model("nin", (3, 32, 32), 10, bn=False, dropout=False).eval()
    x = torch.randn(1, 3, 32, 32)
    monkeypatch.setattr(interpret, "_gap_head", lambda m: None)  # force the Grad-CAM path
    method, gcam = interpret.class_activation_map(model, x, 2)
    with torch.no_grad():
        a = model.features[:-2](x)[0, 2]  # the last conv's output, before its ReLU
    expected = F.interpolate(F.relu(a)[None, None], size=(32, 32), mode="bilinear")[0, 0]
    assert method == "Grad-CAM" and gcam.max() > 0
    torch.testing.assert_close(gcam / gcam.max(), expected / expected.max())


def test_guided_backprop_leaves_the_model_untouched_and_differs_from_the_plain_gradient():
    torch.manual_seed(0)
    model = build_model("net1", (3, 32, 32), 5).eval()
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    model(x)[0, 1].backward()
    plain = x.grad.clone()
    guided = interpret.guided_backprop(model, x.detach(), 1)
    assert guided.shape == (3, 32, 32) and not torch.allclose(guided, plain[0])
    x2 = x.detach().clone().requires_grad_(True)
    model(x2)[0, 1].backward()
    torch.testing.assert_close(x2.grad, plain)  # no hook left behind


def test_examples_and_feature_maps():
    torch.manual_seed(0)
    model = build_model("net3", (3, 32, 32), 5).eval()
    split = {"x": torch.randint(0, 255, (40, 3, 32, 32), dtype=torch.uint8), "y": torch.randint(0, 5, (40,))}
    norm = Normalizer(split["x"])
    ex = interpret.pick_examples(model, norm, split)
    assert ex["correct"]["pred"] == ex["correct"]["label"] and ex["wrong"]["pred"] != ex["wrong"]["label"]
    maps = interpret.feature_maps(model, norm(ex["correct"]["x"]))
    assert [a.shape for _, a in maps] == [(16, 30, 30), (32, 13, 13), (32, 6, 6)]
    assert interpret.first_layer_filters(model).shape == (16, 3, 3, 3)


def _frozen(model):
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def test_resnet18_with_a_frozen_backbone_gets_the_exact_cam_without_any_gradient():
    torch.manual_seed(0)
    model = build_model("resnet18_tl", (3, 64, 64), 10, train_bn=False).eval()  # only fc trains: BN frozen
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)[0]
    method, cam = interpret.class_activation_map(model, x, 3)
    assert method == "CAM" and cam.shape == (64, 64)
    with torch.no_grad():
        a = interpret._input_of(model, model.avgpool, x)[0]
        raw = torch.einsum("k,khw->hw", model.fc.weight[3], a)
    assert (raw.mean() + model.fc.bias[3]).item() == pytest.approx(logits[3].item(), abs=1e-4)
    saliency = interpret.guided_backprop(model, x, 3)
    assert saliency.shape == (3, 64, 64) and saliency.abs().sum() > 0


def test_grad_cam_and_guided_backprop_work_when_no_parameter_requires_grad():
    torch.manual_seed(0)
    model = _frozen(build_model("net1", (3, 32, 32), 5))  # no GAP: Grad-CAM on the last conv
    x = torch.randn(1, 3, 32, 32)
    method, cam = interpret.class_activation_map(model, x, 1)
    assert method == "Grad-CAM" and cam.shape == (32, 32) and torch.isfinite(cam).all()
    assert interpret.guided_backprop(model, x, 1).abs().sum() > 0
