"""A training run SIGKILLed mid-run on ``--device`` and resumed, against the same run uninterrupted.

A real child process trains a LeNet on learnable random images (augmentation and dropout on,
so every random stream must resume exactly); once its first epoch checkpoint exists it is
killed with SIGKILL (no handler runs, as a node failure), and the rerun resumes from the
checkpoint. Its metrics, gradient norms and confusion matrices are compared with those of an
uninterrupted run of the same settings, on the same device, and the verdict is printed and
written to ``--out/kill_resume.txt``. Exit code 1 when they differ.

    python benchmarks/kill_resume.py [--device cuda] [--epochs 3] [--images 3000] [--out results/gpu_check]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cnnstudy.data import datasets
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.train import train_run

CHILD = """
import json, sys
from cnnstudy.runconfig import RunConfig
from cnnstudy.training.train import train_run
cfg = RunConfig(**json.loads(sys.argv[1]))
train_run(cfg, sys.argv[2], sys.argv[3], sys.argv[4], log=lambda m: print(m, flush=True))
"""


def learnable_data(path: Path, images: int) -> Path:
    """Four classes told apart by the brightness of the image's halves, RGB 32 x 32."""
    gen = np.random.default_rng(0)
    x = gen.integers(0, 256, (images, 3, 32, 32), dtype=np.uint8)
    y = (x[:, :, :16].mean(axis=(1, 2, 3)) > 127).astype(np.int64) + 2 * (x[:, :, 16:].mean(axis=(1, 2, 3)) > 127)
    cut = int(0.9 * images)
    datasets.save(path, {"train": (x[:cut], y[:cut]), "val": (x[cut:], y[cut:])}, list("abcd"))
    return path


def settings(device: str, epochs: int) -> RunConfig:
    return RunConfig(study="check", run="lenet", seed=0, dataset="random", arch="lenet", options={"dropout": True},
                     conv_impl="torch", optimizer="adam", lr=1e-3, betas=None, batch_size=16, epochs=epochs,
                     eval_every_steps=20, eval_subset=50, eval_batch_size=256, device=device, deterministic=True,
                     precision="auto", weight_decay=0.0, scheduler=None, momentum=None, resize=None,
                     augment={"hflip": True, "crop_padding": 2, "color_jitter": {"brightness": 0.2}})  # fmt: skip


def killed_and_resumed(cfg: RunConfig, data: Path, out: Path) -> str:
    """Train in a child process, SIGKILL it after its first checkpoint, resume here; its log."""
    ckpt = out / "ckpt" / "last.pt"
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(dataclasses.asdict(cfg)), str(data), str(out),
                              str(ckpt)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.time() + 600
    while not ckpt.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if child.poll() is not None:
        raise SystemExit(
            f"the child run ended before it could be killed: lower --images or raise --epochs\n{child.stdout.read()}"
        )
    child.send_signal(signal.SIGKILL)
    child.wait()
    logs = []
    train_run(cfg, data, out, ckpt, log=logs.append)
    return "\n".join(logs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=Path("results/gpu_check"))
    args = ap.parse_args()
    work = args.out / "kill_resume"
    work.mkdir(parents=True, exist_ok=True)
    data = learnable_data(work / "data.pt", args.images)
    cfg = settings(args.device, args.epochs)
    resumed_log = killed_and_resumed(cfg, data, work / "killed")
    train_run(cfg, data, work / "uninterrupted", work / "uninterrupted" / "ckpt" / "last.pt", log=lambda m: None)
    same = {}
    for name in ("metrics.csv", "grad_norms.csv", "confusion.csv"):
        a, b = (pd.read_csv(work / run / name) for run in ("uninterrupted", "killed"))
        same[name] = a.equals(b)
    resumed = next((line for line in resumed_log.splitlines() if line.startswith("resumed")), "did not resume")
    verdict = "identical" if all(same.values()) else "DIFFERENT"
    text = f"device {args.device}: SIGKILLed after its first checkpoint; {resumed}\n"
    text += "".join(f"  {name}: {'same' if ok else 'differs'} as an uninterrupted run\n" for name, ok in same.items())
    text += f"kill and resume: {verdict}\n"
    print(text, end="")
    (args.out / "kill_resume.txt").write_text(text)
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
