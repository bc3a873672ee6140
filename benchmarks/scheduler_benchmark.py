"""The demo under two values of Snakemake's ``max-jobs-per-timespan``, side by side in one run.

Snakemake re-plans once per timespan for every job finished so far (each scheduling pass
starts a timer whose end starts the next pass), and each pass re-evaluates the resources of
every ready job and stats its inputs. This runs the whole demo from a clean folder under each
setting, alternating over ROUNDS, and prints per setting: the wall time, the Snakemake
process's own CPU time (sampled until it exits), the CPU time of it and all its jobs, and the
ratios within the round (a drifting machine affects both sides).

    python benchmarks/scheduler_benchmark.py [--rounds 1] [--cores 2] [--settings 100/1s 500/5s]

It takes about 9 minutes a round on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DEMO = [str(ROOT / "config" / "config.yaml"), str(ROOT / "config" / "demo.yaml")]


def run_once(setting: str, cores: int) -> tuple[float, float, float]:
    """(wall, Snakemake's own CPU, CPU of it and its jobs) in seconds, of the demo run in a new folder."""
    with tempfile.TemporaryDirectory() as work:
        cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", str(cores),
               "--max-jobs-per-timespan", setting, "--configfile", *DEMO]  # fmt: skip
        log = Path(work) / "snakemake.log"  # a file, not a pipe: a full pipe would stall Snakemake
        start = time.perf_counter()
        with log.open("w") as err:
            proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=err)
        own, watched = 0.0, psutil.Process(proc.pid)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # its usage includes its jobs'
            if pid:
                break
            try:
                times = watched.cpu_times()  # its own: the last sample before it exits
                own = times.user + times.system
            except psutil.Error:  # exiting
                pass
            time.sleep(0.5)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"the demo failed with --max-jobs-per-timespan {setting}:\n{log.read_text()[-3000:]}")
        total = usage.ru_utime + usage.ru_stime
        return wall, own, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--settings", nargs=2, default=["100/1s", "500/5s"], metavar=("BASE", "NEW"))
    args = parser.parse_args()
    print(f"the demo (config.yaml + demo.yaml) from a clean folder, --cores {args.cores}")
    print(f"{'round':>5} {'setting':>9} {'wall s':>7} {'Snakemake CPU s':>16} {'all CPU s':>10}")
    for r in range(1, args.rounds + 1):
        measured = {s: run_once(s, args.cores) for s in args.settings}
        for s, (wall, own, total) in measured.items():
            print(f"{r:>5} {s:>9} {wall:7.1f} {own:16.1f} {total:10.1f}")
        base, new = (measured[s] for s in args.settings)
        print(f"{'':>5} {'ratio':>9} {base[0] / new[0]:6.2f}x {base[1] / new[1]:15.2f}x {base[2] / new[2]:9.2f}x")


if __name__ == "__main__":
    main()
