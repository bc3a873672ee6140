"""The reproduction summary: per source report, what it ran beside what we ran, aspect by
aspect (dataset, image size, splits, epochs, batch, optimizer, metric), each deviation marked
and explained; what was not run and why; the compute used; every model's parameter count;
and the sources of every download with its checksum, version and licence.

The report's side and the reasons for each deviation are the config's words (a study's
``as_reported``, the ``sources``); ours is read from the resolved config and the tables."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from cnnstudy import config as study_config
from cnnstudy.records import SetupRow, SourceRow, frame

ASPECTS = ("dataset", "image_size", "splits", "epochs", "batch_size", "optimizer", "metric")
NATIVE_SIZE = {"cifar10": 32, "mnist": 28}  # datasets kept at their published size
NOT_GIVEN = "not given in the config (as_reported)"
PAGE_NOTE = "What was run, how it differs from each source report, what it cost and where its data came from."
SETUP_NOTE = (
    "Per study, aspect by aspect: the report's set-up in its words, ours from the resolved config, and why ours "
    "differs where it does (deviation). Splits are counted from the prepared datasets."
)
COMPUTE_NOTE = "Per study and in all, diverged and retried runs included; per job: the Performance category's table."
SOURCES_NOTE = (
    "Every download of the config: its URL and the checksum it is verified against, its publisher, version and "
    "licence as the publisher states it."
)
NO_SOURCE = "no source record in the config (key sources)"
NOT_SELECTED = "not run (no run of the study is selected: key select)"
DEMO_NOTE = (
    "Demo: config/demo.yaml runs generated twins of the datasets with fewer images, epochs and seeds; the reports' "
    "side and the reasons for each deviation are the full study's. "
)


def _agreed(values: dict) -> str:
    """One setting over a study's runs: the common value, then the runs that differ."""
    common = Counter(values.values()).most_common(1)[0][0]
    others = [f"{run}: {v}" for run, v in values.items() if v != common]
    return common + (f" ({'; '.join(others)})" if others else "")


def _optimizer(r) -> str:
    text = f"{'Adam' if r.optimizer == 'adam' else 'SGD'}, lr {r.lr:g}"
    text += f", betas ({r.betas[0]:g}, {r.betas[1]:g})" if r.betas else ""
    text += f", momentum {r.momentum:g}" if r.momentum else ""
    text += f", StepLR({r.scheduler['step_size']}, {r.scheduler['gamma']:g})" if r.scheduler else ""
    return text


def _dataset(config: dict, dataset: str) -> str:
    spec = config["datasets"][dataset]
    classes = f", classes {', '.join(spec['classes'])}" if "classes" in spec else ""
    derived = f", derived from {spec['source']}" if "source" in spec else ""
    return f"{dataset} (kind {spec['kind']}{classes}{derived}); its downloads: the sources table"


def _image_size(config: dict, dataset: str, r) -> str:
    spec = config["datasets"][dataset]
    if r.resize:
        return f"resized to {r.resize} x {r.resize}"
    if "sizes" in spec:
        return ", ".join(map(str, spec["sizes"])) + " (native sizes)"
    size = spec.get("size", NATIVE_SIZE.get(spec["kind"]))
    return f"{size} x {size}"


def _splits(config: dict, dataset: str, counts: pd.DataFrame | None) -> str:
    spec = config["datasets"][dataset]
    if spec["kind"] == "coco":
        how = f"{spec['train_per_class']} train / {spec['val_per_class']} val per class, disjoint (seed {spec['seed']})"
    elif "val_size" in spec:
        how = f"{spec['val_size']} train images held out as val (seed {spec['seed']}); the official test set as test"
    elif spec["kind"] == "imagenette":
        how = "the official train and val folders (no test split)"
    else:
        how = f"as {spec.get('source', 'its source')}'s"
    if counts is None or counts.empty:
        return how
    sizes = counts.groupby("split", sort=False)["count"].sum()
    return " / ".join(f"{n} {split}" for split, n in sizes.items()) + f": {how}"


def ours_of(config: dict, study: str, counts: pd.DataFrame | None, metric: str) -> dict:
    """Our set-up of ``study``, aspect by aspect, from the resolved config (its selected runs)."""
    dataset = config["studies"][study]["dataset"]
    selected = dict.fromkeys(r for s, r, _ in study_config.runs(config) if s == study)
    if not selected:
        return dict.fromkeys(ASPECTS, NOT_SELECTED)
    runs = {run: study_config.run_config(config, study, run, study_config.seeds_of(config, study, run)[0])
            for run in selected}  # fmt: skip
    return {
        "dataset": _dataset(config, dataset),
        "image_size": _agreed({run: _image_size(config, dataset, r) for run, r in runs.items()}),
        "splits": _splits(config, dataset, counts),
        "epochs": _agreed({run: str(r.epochs) for run, r in runs.items()}),
        "batch_size": _agreed({run: str(r.batch_size) for run, r in runs.items()}),
        "optimizer": _agreed({run: _optimizer(r) for run, r in runs.items()}),
        "metric": metric,
    }


def setup_rows(config: dict, study: str, counts: pd.DataFrame | None, metric: str) -> list[SetupRow]:
    spec = config["studies"][study]
    reported = spec.get("as_reported", {})
    deviations = reported.get("deviations", {})
    ours = ours_of(config, study, counts, metric)
    return [SetupRow(spec["report"], study, aspect, reported.get(aspect, NOT_GIVEN), ours[aspect],
                     aspect in deviations, deviations.get(aspect, "")) for aspect in ASPECTS]  # fmt: skip


def setup_table(config: dict, counts: dict, metrics: dict) -> pd.DataFrame:
    """Every study's set-up beside its report's (``counts``: dataset -> its split counts;
    ``metrics``: study -> the label of the metric its runs are read on)."""
    rows = []
    for study, spec in config["studies"].items():
        rows += setup_rows(config, study, counts.get(spec["dataset"]), metrics.get(study, "not run"))
    return frame(SetupRow, rows)


def sources_table(config: dict) -> pd.DataFrame:
    """Every download of the config with its source record."""
    rows = []
    for name, entry in config["downloads"].items():
        src = config.get("sources", {}).get(name, {})
        rows.append(SourceRow(name, entry["url"], entry["checksum"], src.get("publisher", NO_SOURCE),
                              src.get("version", NO_SOURCE), src.get("licence", NO_SOURCE)))  # fmt: skip
    return frame(SourceRow, rows)


def not_run_table(config: dict, claims: pd.DataFrame) -> pd.DataFrame:
    """What was not run and why: runs this config does not select, then claims judged "not run"."""
    selected = {(s, r) for s, r, _ in study_config.runs(config)}
    every = [(study, run) for study, spec in config["studies"].items() for run in spec["runs"]]
    rows = [{"what": f"run {study}/{run}", "why": "not selected in this config (key select)"}
            for study, run in every if (study, run) not in selected]  # fmt: skip
    rows += [{"what": f"claim {c.claim} ({c.report})", "why": c.evidence}
             for c in claims[claims.verdict == "not run"].itertuples()]  # fmt: skip
    return pd.DataFrame(rows, columns=["what", "why"])


def parameters_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every model's parameter count (all and trainable), one row per study and run."""
    first = runs.drop_duplicates(["study", "model"])
    return first[["study", "model", "arch", "parameters", "trainable_parameters"]].reset_index(drop=True)


def deviations_of(setup: pd.DataFrame) -> pd.DataFrame:
    """The set-up table as the page shows it: the report's words, ours, and why ours differs."""
    shown = setup.assign(deviation=setup.deviation.map({True: "deviation", False: ""}))
    return shown[["report", "study", "aspect", "reported", "ours", "deviation", "why"]]
