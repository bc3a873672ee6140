"""What the trained nets look at: feature maps, first-layer filters, CAM / Grad-CAM and
guided-backpropagation saliency, for a correctly and a wrongly classified image.

CAM is exact where the logits are linear in a global average pool (the class map's spatial
mean is the logit, less the bias), and needs no gradient; every other model gets Grad-CAM on
its last conv layer, with the input in the graph so that frozen backbones work too.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from cnnstudy.nets.models import Classifier, GlobalPool, build_model, place_model
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.inputs import input_pipeline


def load_run(run_cfg: RunConfig, data: dict, state_path, device="cpu"):
    """The run's best model (eval mode) and its input normalizer, rebuilt from the run config
    (without its pretrained weights: the saved state holds every weight)."""
    norm, in_shape = input_pipeline(data["splits"]["train"], run_cfg.resize)
    norm.to(device)
    model = build_model(run_cfg.arch, in_shape, len(data["classes"]), conv_impl=run_cfg.conv_impl, **run_cfg.options)
    try:
        state = torch.load(state_path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt or not a state dict
        raise RuntimeError(
            f"{state_path} is not a readable model state ({exc}); delete it and rerun its training job"
        ) from exc
    model.load_state_dict(state)
    return place_model(model, device).eval(), norm


def _image(split: dict, i: int) -> torch.Tensor:
    x = split["x"][i : i + 1]
    if "size" in split:
        s = int(split["size"][i])
        x = x[..., :s, :s]
    return x


@torch.no_grad()
def pick_examples(model, norm, split: dict) -> dict:
    """The first correctly and the first wrongly classified image of ``split`` (in order)."""
    found = {}
    for i in range(len(split["y"])):
        x = _image(split, i)
        pred = int(model(norm(x)).argmax(1))
        key = "correct" if pred == int(split["y"][i]) else "wrong"
        found.setdefault(key, {"index": i, "x": x, "label": int(split["y"][i]), "pred": pred})
        if len(found) == 2:
            break
    return found


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


@torch.no_grad()
def feature_maps(model, x: torch.Tensor, layers: int = 3) -> list[tuple[str, torch.Tensor]]:
    """Outputs (C, H, W) of the first ``layers`` conv layers for one normalized image."""
    chosen = conv_layers(model)[:layers]
    out, hooks = {}, []
    for name, m in chosen:
        hooks.append(m.register_forward_hook(lambda mod, inp, o, name=name: out.__setitem__(name, o[0].detach())))
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return [(name, out[name]) for name, _ in chosen]


def first_layer_filters(model) -> torch.Tensor:
    return conv_layers(model)[0][1].weight.detach().cpu()


def _gap_head(model) -> tuple[nn.Module, nn.Module | None] | None:
    """(global average pooling, the one linear layer after it, or None when the pooled maps are
    the logits) where the logits are linear in the pooled maps: there CAM is exact. Our GAP
    classifiers (NiN, mnist_gp with mean pooling) and torchvision's ResNet qualify."""
    if isinstance(model, Classifier) and _is_mean_pool(model.features[-1]):
        head = model.head
        if isinstance(head, (nn.Linear, nn.Identity)):
            return model.features[-1], head if isinstance(head, nn.Linear) else None
        return None
    pool, fc = getattr(model, "avgpool", None), getattr(model, "fc", None)
    return (pool, fc) if _is_mean_pool(pool) and isinstance(fc, nn.Linear) else None


def _is_mean_pool(module) -> bool:
    return isinstance(module, GlobalPool) and module.kind == "mean"


def _input_of(model, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What ``module`` receives when ``model`` runs on ``x``."""
    store = {}
    h = module.register_forward_hook(lambda m, i, o: store.__setitem__("a", i[0]))
    try:
        model(x)
    finally:
        h.remove()
    return store["a"]


def class_activation_map(model, x: torch.Tensor, target: int) -> tuple[str, torch.Tensor]:
    """(method, map at the input's size): exact CAM where the logits are linear in a global
    average pool (no gradient needed: frozen backbones included), Grad-CAM otherwise."""
    gap = _gap_head(model)
    if gap:
        pool, fc = gap
        with torch.no_grad():
            a = _input_of(model, pool, x)[0]  # (K, h, w) before the global pooling
            cam = torch.einsum("k,khw->hw", fc.weight[target], a) if fc is not None else a[target]
        method = "CAM"
    else:
        name, layer = conv_layers(model)[-1]
        store = {}
        h = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
        try:
            # the input joins the graph, so every activation does, frozen layers or not
            logits = model(x.detach().requires_grad_(True))
            grad = torch.autograd.grad(logits[0, target], store["a"])[0][0]
        finally:
            h.remove()
        a = store["a"][0].detach()
        cam = F.relu(torch.einsum("k,khw->hw", grad.mean(dim=(1, 2)), a))
        method = "Grad-CAM"
    up = F.interpolate(cam[None, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return method, up.detach()


def guided_backprop(model, x: torch.Tensor, target: int) -> torch.Tensor:
    """Gradient of the target logit w.r.t. the input, with only positive gradients passed
    back through every ReLU (Springenberg et al.); the model itself is left untouched."""
    net = copy.deepcopy(model).eval()
    for m in net.modules():
        if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            m.inplace = False
            m.register_full_backward_hook(lambda mod, gin, gout: (gin[0].clamp(min=0),))
    x = x.clone().requires_grad_(True)
    net(x)[0, target].backward()
    return x.grad[0].detach()


def analyse(run_cfg: RunConfig, data: dict, state_path, device="cpu") -> dict:
    """Everything the interpretation figures of one run need; ``data`` is the prepared dataset
    (``datasets.load``), read and verified once for all the runs of a study."""
    model, norm = load_run(run_cfg, data, state_path, device)
    split = data["splits"]["val"]  # every prepared dataset has one: epochs are chosen on it
    out = {"classes": data["classes"], "examples": {}, "filters": first_layer_filters(model)}
    for key, ex in pick_examples(model, norm, split).items():
        xn = norm(ex["x"].to(device))
        method, cam = class_activation_map(model, xn, ex["pred"])
        out["examples"][key] = {
            **ex,
            "cam_method": method,
            "cam": cam.cpu(),
            "saliency": guided_backprop(model, xn, ex["pred"]).cpu(),
            "feature_maps": [(n, a.cpu()) for n, a in feature_maps(model, xn)],
        }
    return out
