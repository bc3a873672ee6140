"""Hand-written convolutions against F.conv2d, measured side by side in one run.

Prints, per study-like layer shape, the median seconds of forward and forward+backward of
each implementation and its ratio to torch, then the median ratio over the shapes (the
target: within 2x for im2col and unfold). The naive loop is timed on a small shape only.

    python benchmarks/conv_benchmark.py [--repeats 9] [--threads 2]
"""

import argparse
import platform

import numpy as np
import pandas as pd
import torch
import yaml

from cnnstudy.config import SCHEMA
from cnnstudy.nets.conv_check import time_layers

SHAPES = yaml.safe_load((SCHEMA.parents[2] / "config" / "config.yaml").read_text())["conv_tests"]["timing_shapes"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, numpy {np.__version__}, {cpu}, {args.threads} threads")
    t = time_layers(SHAPES, repeats=args.repeats)
    pd.set_option("display.width", 200)
    print(t.to_string(index=False, float_format=lambda v: f"{v:.5f}"))
    study = t[t["shape"].isin("x".join(map(str, s)) for s in SHAPES)]
    print("\nmedian ratio to F.conv2d over the study shapes:")
    for impl in ("im2col", "unfold"):
        r = study[study.implementation == impl]
        fwd, both = r.forward_ratio.median(), r.forward_backward_ratio.median()
        print(f"  {impl:7s} forward {fwd:.2f}x   forward+backward {both:.2f}x")


if __name__ == "__main__":
    main()
