"""A short training run on the real MNIST digits of ../shared/data (skipped when absent)."""

import pytest
from conftest import shared

from cnnstudy.data import datasets, prepare
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.train import train_run


@pytest.mark.slow
def test_seed003_cnn_reaches_95_percent_on_real_mnist_in_3_epochs(tmp_path):
    files = {
        "train_images": shared("mnist", "train-images-idx3-ubyte.gz"),
        "train_labels": shared("mnist", "train-labels-idx1-ubyte.gz"),
        "test_images": shared("mnist", "t10k-images-idx3-ubyte.gz"),
        "test_labels": shared("mnist", "t10k-labels-idx1-ubyte.gz"),
    }
    splits, classes = prepare.prepare_mnist({"val_size": 250, "seed": 0}, files)  # 4,750 of the 5,000 train
    datasets.save(tmp_path / "mnist.pt", splits, classes)
    cfg = RunConfig(study="mnist_cnn_sweeps", run="base", seed=0, dataset="mnist", arch="mnist_cnn", options={},
                    conv_impl="torch", optimizer="adam", lr=1e-3, batch_size=16, epochs=3, eval_every_steps=0,
                    eval_subset=0, eval_batch_size=64, device="cpu", deterministic=True, precision="fp32",
                    weight_decay=0.0)  # fmt: skip
    summary = train_run(cfg, tmp_path / "mnist.pt", tmp_path / "run", tmp_path / "ckpt.pt", log=lambda m: None)
    assert summary["parameters"] == 29066
    assert summary["test_accuracy"] >= 0.95  # the best-val epoch on the 10,000 real test digits
