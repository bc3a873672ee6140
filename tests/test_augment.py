import pytest
import torch

from cnnstudy.training import augment


def batch(n=64, c=3, h=16, w=16):
    x = torch.zeros(n, c, h, w)
    x[..., :, : w // 4] = 1.0  # a bright band on the left
    return x


def test_hflip_flips_about_half_of_the_samples_exactly():
    x = batch()
    out = augment.augment_batch(x, {"hflip": True}, torch.Generator().manual_seed(0))
    flipped = torch.isclose(out, x.flip(-1), atol=1e-5).flatten(1).all(1)
    same = torch.isclose(out, x, atol=1e-5).flatten(1).all(1)
    assert (flipped | same).all() and 16 < flipped.sum() < 48


def test_crop_padding_shifts_by_whole_pixels_with_zero_fill():
    x = torch.rand(32, 1, 12, 12)
    out = augment.augment_batch(x, {"crop_padding": 2}, torch.Generator().manual_seed(1))
    for a, b in zip(out, x):
        ok = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                shifted = torch.zeros_like(b)
                src = b[:, max(0, dy) : 12 + min(0, dy), max(0, dx) : 12 + min(0, dx)]
                shifted[:, max(0, -dy) : 12 + min(0, -dy), max(0, -dx) : 12 + min(0, -dx)] = src
                ok |= torch.allclose(a, shifted, atol=1e-5)
        assert ok


def test_same_generator_same_augmentation_and_values_stay_in_range():
    cfg = {
        "hflip": True,
        "rotation": 30,
        "affine": {"translate": 0.1, "scale": [0.9, 1.1], "shear": 10},
        "color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4},
    }
    x = torch.rand(8, 3, 16, 16)
    a = augment.augment_batch(x, cfg, torch.Generator().manual_seed(5))
    b = augment.augment_batch(x, cfg, torch.Generator().manual_seed(5))
    c = augment.augment_batch(x, cfg, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1 and a.shape == x.shape
    # per-sample parameters: two identical inputs get different outputs
    same = augment.augment_batch(x[:1].repeat(2, 1, 1, 1), cfg, torch.Generator().manual_seed(7))
    assert not torch.allclose(same[0], same[1])


def test_unknown_switch_is_a_clear_error():
    with pytest.raises(augment.AugmentConfigError, match="unknown augmentation.*'vflip'"):
        augment.validate({"vflip": True})


@pytest.mark.parametrize("channels", [3, 1])
def test_color_jitter_draws_the_distribution_of_torchvisions_colorjitter(channels):
    """Per-image statistics of ours and of torchvision's own transform, 3,000 draws each of
    one image, are indistinguishable (two-sample KS); a stronger jitter is told apart."""
    from scipy.stats import ks_2samp
    from torchvision.transforms import ColorJitter

    torch.manual_seed(0)
    img = torch.rand(channels, 6, 6)
    cj = (
        {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}
        if channels == 3
        else {"brightness": 0.4, "contrast": 0.4}
    )
    n = 3000
    ours = augment.color_jitter(img.expand(n, -1, -1, -1).clone(), cj, torch.Generator().manual_seed(1))
    theirs = torch.stack([ColorJitter(**cj)(img) for _ in range(n)])
    stronger = augment.color_jitter(
        img.expand(n, -1, -1, -1).clone(), {**cj, "brightness": 0.8}, torch.Generator().manual_seed(2)
    )
    stats = [lambda a: a.mean((1, 2, 3)), lambda a: a.std((1, 2, 3)), lambda a: a[:, -1, 2, 3], lambda a: a[:, 0, 1, 1]]
    for stat in stats:
        assert ks_2samp(stat(ours).numpy(), stat(theirs).numpy()).pvalue > 1e-3
    assert ks_2samp(stats[0](stronger).numpy(), stats[0](theirs).numpy()).pvalue < 1e-6


def test_hue_shift_equals_torchvisions_adjust_hue():
    import torchvision.transforms.functional as TF

    x = torch.rand(6, 3, 5, 5)
    shift = torch.linspace(-0.4, 0.4, 6)
    ours = augment._hue(x, shift)
    torch.testing.assert_close(
        ours, torch.stack([TF.adjust_hue(a, float(s)) for a, s in zip(x, shift)]), atol=1e-5, rtol=0
    )
