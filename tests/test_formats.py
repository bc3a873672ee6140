"""Parsers of the official formats: on the demo twins, on the real files, and on corrupt input."""

import gzip
import shutil

import numpy as np
import pytest
from conftest import shared

from cnnstudy.data import datasets, demo_data, formats, prepare
from cnnstudy.data.download import extract


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    root = tmp_path_factory.mktemp("twins")
    cifar = demo_data.make_cifar10(root / "cifar", train_per_class=10, test_per_class=4)
    mnist = demo_data.make_mnist(root / "mnist", train_per_class=12, test_per_class=5)
    nette = demo_data.make_imagenette(root / "nette", train_per_class=3, val_per_class=2)
    return {
        "cifar": extract(cifar["archive"], root / "cifar_x") / "cifar-10-batches-bin",
        "mnist": mnist,
        "imagenette": extract(nette["archive"], root / "nette_x") / "imagenette2-160",
    }


def check_split(x, y, n, shape, classes=10):
    assert x.dtype == np.uint8 and x.shape == (n, *shape)
    assert y.dtype == np.int64 and y.min() >= 0 and y.max() < classes
    assert x.max() > 100  # real content, not an empty canvas


# ----------------------------------------------------------------------------- twins
def test_cifar_twin_parses_with_seeded_validation(twins):
    splits, classes = prepare.prepare_cifar10({"val_size": 20, "seed": 0}, twins["cifar"])
    assert classes[:2] == ["airplane", "automobile"] and len(classes) == 10
    check_split(*splits["train"], 80, (3, 32, 32))
    check_split(*splits["val"], 20, (3, 32, 32))
    check_split(*splits["test"], 40, (3, 32, 32))
    again, _ = prepare.prepare_cifar10({"val_size": 20, "seed": 0}, twins["cifar"])
    other, _ = prepare.prepare_cifar10({"val_size": 20, "seed": 1}, twins["cifar"])
    assert np.array_equal(again["val"][0], splits["val"][0]) and not np.array_equal(other["val"][0], splits["val"][0])


def test_mnist_twin_parses(twins):
    splits, classes = prepare.prepare_mnist({"val_size": 20, "seed": 0}, twins["mnist"])
    check_split(*splits["train"], 100, (1, 28, 28))
    check_split(*splits["test"], 50, (1, 28, 28))
    assert np.bincount(splits["test"][1]).tolist() == [5] * 10


def test_mnist_images_and_labels_that_do_not_match_name_both_files_and_the_fix(twins, tmp_path):
    files = dict(twins["mnist"])
    other = demo_data.make_mnist(tmp_path, train_per_class=7, test_per_class=5)  # another release's labels
    files["train_labels"] = other["train_labels"]
    spec = {"val_size": 20, "seed": 0, "files": {f"{p}_{k}": f"mnist_{p}_{k}" for p in ("train", "test")
                                                  for k in ("images", "labels")}}  # fmt: skip
    message = (
        rf"MNIST train: {files['train_images']} holds 120 images .* but {files['train_labels']} holds 70 labels: "
        r".*Check downloads.mnist_train_images and downloads.mnist_train_labels in the config, delete both"
    )
    with pytest.raises(prepare.PrepareError, match=message):
        prepare.prepare_mnist(spec, files)


def test_imagenette_twin_parses_with_class_names(twins):
    splits, classes = prepare.prepare_imagenette({"size": 48}, twins["imagenette"])
    assert classes[6] == "garbage truck"
    check_split(*splits["train"], 30, (3, 48, 48))
    check_split(*splits["val"], 20, (3, 48, 48))


def test_varres_pastes_each_digit_on_one_canvas_size(tmp_path, twins):
    splits, classes = prepare.prepare_mnist({"val_size": 20, "seed": 0}, twins["mnist"])
    datasets.save(tmp_path / "m.pt", splits, classes)
    var, _ = prepare.prepare_mnist_varres({"sizes": [32, 48, 64], "seed": 0}, tmp_path / "m.pt")
    x, y, size = var["train"]
    assert x.shape == (100, 1, 64, 64) and set(size) == {32, 48, 64}
    for img, s, src in zip(x, size, splits["train"][0]):
        assert img[:, s:, :].sum() == 0 and img[:, :, s:].sum() == 0  # nothing outside its canvas
        assert img.sum() == src.sum()  # the whole digit, pasted once
    again, _ = prepare.prepare_mnist_varres({"sizes": [32, 48, 64], "seed": 0}, tmp_path / "m.pt")
    assert np.array_equal(again["train"][0], x)


# ----------------------------------------------------------------------------- corrupt input
def test_truncated_gzip_is_a_clear_error(tmp_path, twins):
    data = twins["mnist"]["train_images"].read_bytes()
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(formats.FormatError, match="truncated or corrupt gzip.*delete it and rerun"):
        formats.read_idx(bad)


def test_wrong_idx_magic_and_short_body_are_clear_errors(tmp_path, twins):
    raw = gzip.decompress(twins["mnist"]["train_labels"].read_bytes())
    (tmp_path / "magic").write_bytes(b"\x12\x34" + raw[2:])
    with pytest.raises(formats.FormatError, match="wrong idx magic"):
        formats.read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(raw[:-3])
    with pytest.raises(formats.FormatError, match="truncated"):
        formats.read_idx(tmp_path / "short")


def test_cifar_record_length_is_checked(tmp_path, twins):
    root = tmp_path / "cifar"
    shutil.copytree(twins["cifar"], root)
    with open(root / "data_batch_3.bin", "ab") as f:
        f.write(b"\x00" * 10)
    with pytest.raises(
        formats.FormatError, match="data_batch_3.bin.*not a multiple of the CIFAR-10 record length 3073"
    ):
        prepare.prepare_cifar10({"val_size": 10, "seed": 0}, root)


def test_unknown_imagenette_wnid_is_a_clear_error(tmp_path, twins):
    root = tmp_path / "nette"
    shutil.copytree(twins["imagenette"], root)
    (root / "train" / "n99999999").mkdir()
    with pytest.raises(formats.FormatError, match=r"unknown class folder\(s\) \['n99999999'\]"):
        prepare.prepare_imagenette({"size": 32}, root)


# ----------------------------------------------------------------------------- the real files
def test_real_mnist():
    files = {
        "train_images": shared("mnist", "train-images-idx3-ubyte.gz"),
        "train_labels": shared("mnist", "train-labels-idx1-ubyte.gz"),
        "test_images": shared("mnist", "t10k-images-idx3-ubyte.gz"),
        "test_labels": shared("mnist", "t10k-labels-idx1-ubyte.gz"),
    }
    splits, _ = prepare.prepare_mnist({"val_size": 500, "seed": 0}, files)
    check_split(*splits["train"], 4500, (1, 28, 28))
    check_split(*splits["test"], 10000, (1, 28, 28))
    full = np.concatenate([splits["train"][1], splits["val"][1]])
    assert np.bincount(full).tolist() == [500] * 10  # the mirror's 500 per class
    assert 0.10 < splits["test"][0].mean() / 255 < 0.16  # MNIST's mean intensity is 0.13


def test_real_cifar10(tmp_path):
    root = extract(shared("cifar10", "cifar-10-binary.tar.gz"), tmp_path / "c") / "cifar-10-batches-bin"
    splits, classes = prepare.prepare_cifar10({"val_size": 1000, "seed": 0}, root)
    assert classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    check_split(*splits["train"], 9000, (3, 32, 32))
    check_split(*splits["test"], 10000, (3, 32, 32))
    assert np.bincount(splits["test"][1]).tolist() == [1000] * 10
    assert 0.4 < splits["test"][0].mean() / 255 < 0.55  # CIFAR-10's mean intensity is about 0.47


def test_real_imagenette(tmp_path):
    root = extract(shared("imagenette", "imagenette2-160.tgz"), tmp_path / "i") / "imagenette2-160"
    splits, classes = prepare.prepare_imagenette({"size": 64}, root)
    assert "garbage truck" in classes and len(classes) == 10
    check_split(*splits["train"], 1000, (3, 64, 64))
    check_split(*splits["val"], 500, (3, 64, 64))
    assert np.bincount(splits["val"][1]).tolist() == [50] * 10
