#!/usr/bin/env bash
# Everything the CUDA paths still owe, in one go, written to one folder (within 10 minutes on one GPU):
#   1. the training benchmark: ours against the reports' loop and the floor, on the device;
#   2. K training processes sharing the device (K = 1 2 4 8): aggregate rate against one;
#   3. the full study's grid projected on the device;
#   4. a training run SIGKILLed mid-run and resumed, compared with an uninterrupted one.
#
#   bash benchmarks/gpu_check.sh [--device cuda] [--quick] [OUT]       (OUT: results/gpu_check)
#
# On a GPU node: run it there after `make test` installed .venv. Through the device tool of a
# session that is lent one: `run` with `bash benchmarks/gpu_check.sh` and `carry: [".venv"]`
# is too large (64 MiB): install first (`python -m pip install -e .`) in the same command.
# `--device cpu --quick` runs every step at a tiny scale on the CPU: a test does, so it cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
device=cuda quick=0 out=results/gpu_check
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    -*) echo "gpu_check.sh: unknown option $1 (--device DEVICE, --quick, OUT)" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
PY=${PYTHON:-.venv/bin/python}
if [ "$quick" = 1 ]; then
  scale=0.02 rounds=1 counts="1 2" measure=0.1 configs="config/config.yaml config/demo.yaml" images=1500 epochs=2
else
  scale=1.0 rounds=3 counts="1 2 4 8" measure=2 configs="config/config.yaml" images=20000 epochs=3
fi
mkdir -p "$out"
step() { echo "== $1"; }
{
  echo "gpu_check on $device ($(date -u +%FT%TZ)), quick=$quick"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU visible')"
} | tee "$out/device.txt"
step "1. training benchmark" && "$PY" benchmarks/train_benchmark.py --device "$device" --rounds "$rounds" --scale "$scale" | tee "$out/train_benchmark.txt"
# shellcheck disable=SC2086 # word splitting of the counts is wanted
step "2. concurrent processes" && "$PY" benchmarks/train_benchmark.py --device "$device" --concurrent $counts --settings coco5 --scale "$scale" | tee "$out/concurrent.txt"
# shellcheck disable=SC2086
step "3. grid projection" && "$PY" benchmarks/train_benchmark.py --projection $configs --device "$device" --measure-seconds "$measure" --out "$out/projection" | tee "$out/projection.txt"
step "4. kill and resume" && "$PY" benchmarks/kill_resume.py --device "$device" --images "$images" --epochs "$epochs" --out "$out" | tee "$out/kill_resume_log.txt"
echo "gpu_check: everything measured is in $out"
