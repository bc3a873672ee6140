import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
SHARED_DATA = Path(os.environ.get("CNNSTUDY_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    """The full-size smoke run last, so every faster test reports first (about 20 minutes on
    2 cores; CI runs it). CNNSTUDY_SMOKE=0 skips it for a quicker local run."""
    items.sort(key=lambda item: item.get_closest_marker("smoke") is not None)
    if os.environ.get("CNNSTUDY_SMOKE") == "0":
        skip = pytest.mark.skip(reason="the full-size smoke run skipped (CNNSTUDY_SMOKE=0)")
        for item in items:
            if item.get_closest_marker("smoke"):
                item.add_marker(skip)


def shared(*parts) -> Path:
    """A path of the real-data mirror; the test is skipped when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not present: {p}")
    return p


@pytest.fixture(scope="session")
def demo_coco(tmp_path_factory):
    """The demo COCO twin, extracted: (annotation file, image folder)."""
    from cnnstudy.data.demo_data import make_coco
    from cnnstudy.data.download import extract

    root = tmp_path_factory.mktemp("demococo")
    paths = make_coco(root / "src", images_per_class=30, distractor_images=6, seed=3)
    ann = extract(paths["annotations"], root / "ann")
    img = extract(paths["images"], root / "img")
    return ann / "annotations" / "instances_train2014.json", img / "train2014"


def demo_config() -> dict:
    """The demo's config as Snakemake sees it: config/demo.yaml laid over config/config.yaml
    (unvalidated: tests mutate it, then validate)."""
    from cnnstudy.config import merge

    full = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return merge(full, yaml.safe_load((ROOT / "config" / "demo.yaml").read_text()))


def smk(workdir, *args, env=None, check=True, snakefile=None):
    """``snakemake args`` in ``workdir``, of this repository's Snakefile or of ``snakefile`` (a copy)."""
    command = [*SNAKEMAKE[:-1], str(snakefile)] if snakefile else SNAKEMAKE
    # a copy is another checkout: its jobs must import its package (the workflow checks)
    own_code = {"PYTHONPATH": str(Path(snakefile).parent / "src")} if snakefile else {}
    proc = subprocess.run(
        [*command, *args], cwd=workdir, capture_output=True, text=True, env={**os.environ, **own_code, **(env or {})}
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def job_counts(dry_run_output: str) -> dict:
    stats = dry_run_output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo as make demo runs it (one coco seed fewer, smaller timing shapes), written out
    as one complete config."""
    work = tmp_path_factory.mktemp("demo")
    cfg = demo_config()
    cfg["studies"]["coco5_nets"].update(seeds=[0])
    cfg["conv_tests"]["timing_shapes"] = [[2, 3, 16, 16, 4, 3, 1, 0]]
    cfg["conv_tests"]["timing_repeats"] = 1
    (work / "test.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))  # config order is report order
    smk(work, "--cores", "2", "--configfile", "test.yaml")
    return work, cfg


@pytest.fixture(scope="session")
def demo_report(demo_run) -> Path:
    """The demo's Snakemake report (report/report.html in the demo's folder)."""
    work, _ = demo_run
    (work / "report").mkdir(exist_ok=True)
    smk(work, "--configfile", "test.yaml", "--report", "report/report.html")
    return work / "report" / "report.html"


def board_scalars(folder) -> dict:
    """Every scalar tag of a run's TensorBoard folder, read by TensorBoard's own reader, as
    {tag: [(step, value)]} (events a resumed run purged are gone, as TensorBoard shows them)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def copy_repository(to: Path) -> Path:
    """The workflow, package and configs copied to ``to`` (for tests that edit code): its Snakefile."""
    import shutil

    to.mkdir(parents=True, exist_ok=True)
    for part in ("Snakefile", "workflow", "src", "config", "profiles", "envs"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, to / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, to / part)
    return to / "Snakefile"


def run_summary(**fields):
    """A complete RunSummary record (every key present, as training writes it), with ``fields``."""
    from cnnstudy.records import RunSummary

    base = dict(study="s", model="m", seed=0, status="completed", arch="mnist_cnn", dataset="mnist", epochs_run=5,
                best_epoch=5, best_val_accuracy=0.9, final_val_accuracy=0.9, test_split=True, test_accuracy=0.9,
                final_test_accuracy=0.9, best_test_accuracy=0.9, chance_level=0.1, parameters=10,
                trainable_parameters=10, seconds=30.0, images_per_second=100.0, device="cpu", device_name="x86_64",
                capability=None, cuda_build=None, precision="fp32", tf32=False, config_hash="0" * 16,
                code_sha256="0" * 64, data_sha256={}, weights_sha256=None, versions={}, config={})  # fmt: skip
    return RunSummary(**{**base, **fields})
