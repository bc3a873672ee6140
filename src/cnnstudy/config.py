"""Load, validate and expand the pipeline config: which runs exist and what each one is.

The same functions serve the Snakefile (to plan jobs) and the tests, so a config that plans
is a config that trains. Validation is the JSON schema in ``workflow/schemas`` plus the
cross-references a schema cannot express (a study naming an unknown dataset, ...).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

from .architectures import ARCHITECTURES, ModelConfigError, resolve_options
from .runconfig import RunConfig

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
RESULTS = "results"
# Datasets whose images have one channel: colour jitter that needs colour is meaningless there.
GRAYSCALE_KINDS = {"mnist", "mnist_varres"}


# Keys of a study's ``training`` block that a single run may override: the schema's list.
TRAINING_KEYS = frozenset(yaml.safe_load(SCHEMA.read_text())["$defs"]["training"]["properties"])


class ConfigError(ValueError):
    """The config is invalid; the message names the key and the fix."""


def validate(config: dict, schema_path: str | Path = SCHEMA) -> dict:
    """Validate against the JSON schema (filling defaults) and check cross-references."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator_cls = jsonschema.validators.validator_for(schema)

    def set_defaults(validator, properties, instance, schema):
        for prop, sub in properties.items():
            if isinstance(instance, dict) and isinstance(sub, dict) and "default" in sub:
                instance.setdefault(prop, copy.deepcopy(sub["default"]))
        yield from validator_cls.VALIDATORS["properties"](validator, properties, instance, schema)

    filling = jsonschema.validators.extend(validator_cls, {"properties": set_defaults})
    errors = sorted(filling(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at {'/'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}" for e in errors[:10]]
        raise ConfigError("config does not match workflow/schemas/config.schema.yaml:\n" + "\n".join(lines))
    check_references(config)
    return config


def check_references(config: dict) -> None:
    """What the schema cannot say: names that must exist elsewhere, and switches a run must use."""
    downloads = config.get("downloads", {})
    all_datasets = config.get("datasets", {})
    for name, ds in all_datasets.items():
        refs = [
            (f"{part}/download", ds[part]["download"]) for part in ("annotations", "images", "archive") if part in ds
        ]
        refs += [(f"files/{k}", v) for k, v in ds.get("files", {}).items()]
        for where, ref in refs:
            if ref not in downloads:
                raise ConfigError(
                    f"datasets/{name}/{where} names {ref!r}, which is not under downloads: {sorted(downloads)}"
                )
        if ds["kind"] == "mnist_varres" and all_datasets.get(ds["source"], {}).get("kind") != "mnist":
            raise ConfigError(f"datasets/{name}/source is {ds['source']!r}, which is not a dataset of kind mnist")
    for sname, study in config.get("studies", {}).items():
        _check_study(config, sname, study)


def _check_study(config: dict, sname: str, study: dict) -> None:
    datasets = config.get("datasets", {})
    if study["dataset"] not in datasets:
        raise ConfigError(f"studies/{sname}/dataset is {study['dataset']!r}, not one of datasets: {sorted(datasets)}")
    for rname in study.get("reported", {}):
        if rname not in study["runs"]:
            raise ConfigError(f"studies/{sname}/reported names {rname!r}, not one of its runs {sorted(study['runs'])}")
    for comp in study.get("comparisons", []):
        for key in ("a", "b"):
            if comp[key] not in study["runs"]:
                raise ConfigError(
                    f"studies/{sname}/comparisons: {key}={comp[key]!r} is not one of its runs {sorted(study['runs'])}"
                )
    for rname in study["runs"]:
        _check_run(config, sname, rname)


def _check_run(config: dict, sname: str, rname: str) -> None:
    """A switch the run's architecture or optimizer does not use is an error, never a no-op."""
    where = f"studies/{sname}/runs/{rname}"
    run = config["studies"][sname]["runs"][rname]
    arch = run.get("arch", rname)
    if arch not in ARCHITECTURES:
        raise ConfigError(f"{where}: unknown model {arch!r}; known models: {sorted(ARCHITECTURES)}")
    spec = ARCHITECTURES[arch]
    try:
        resolve_options(arch, run.get("options", {}))
    except ModelConfigError as exc:
        raise ConfigError(f"{where}/options: {exc}") from None
    if run.get("conv_impl", "torch") != "torch" and not spec.hand_written_conv:
        raise ConfigError(f"{where}/conv_impl: model {arch!r} uses torchvision's own convolutions; remove the key")
    if run.get("pretrained") and not spec.pretrained:
        raise ConfigError(f"{where}/pretrained: model {arch!r} takes no pretrained weights; remove the key")
    if run.get("pretrained") and run["pretrained"] not in config.get("downloads", {}):
        raise ConfigError(f"{where}/pretrained names {run['pretrained']!r}, not under downloads")
    training = {**config["studies"][sname].get("training", {}), **{k: v for k, v in run.items() if k in TRAINING_KEYS}}
    missing = sorted({"lr", "batch_size", "epochs"} - set(training))
    if missing:
        raise ConfigError(f"{where}: {missing} set neither in the run nor in its study's training block")
    unused = {"adam": "momentum", "sgd": "betas"}[training.get("optimizer", "adam")]
    if unused in training:
        raise ConfigError(
            f"{where}: optimizer {training.get('optimizer', 'adam')!r} does not use {unused!r} "
            "(set in the run or its study's training block); remove it"
        )
    jitter = (training.get("augment") or {}).get("color_jitter") or {}
    colour = sorted({"saturation", "hue"} & set(jitter))
    if colour and config["datasets"][config["studies"][sname]["dataset"]]["kind"] in GRAYSCALE_KINDS:
        raise ConfigError(f"{where}/augment/color_jitter: {colour} change nothing on one-channel images; remove them")


def download_path(config: dict, name: str) -> str:
    """Where download ``name`` lands: results/downloads/<name>/<last part of its URL>."""
    return f"{RESULTS}/downloads/{name}/{os.path.basename(config['downloads'][name]['url'].rstrip('/'))}"


def load(path: str | os.PathLike) -> dict:
    with open(path) as f:
        return validate(yaml.safe_load(f))


def seeds_of(config: dict, study: str, run: str | None = None) -> list[int]:
    s = config["studies"][study]
    if run is not None and "seeds" in s["runs"][run]:
        return list(s["runs"][run]["seeds"])
    return list(s.get("seeds", config["seeds"]))


def runs(config: dict) -> list[tuple[str, str, int]]:
    """Every (study, run, seed) job of the config, in config order."""
    return [
        (sname, rname, seed)
        for sname, study in config["studies"].items()
        for rname in study["runs"]
        for seed in seeds_of(config, sname, rname)
    ]


def run_config(config: dict, study: str, run: str, seed: int) -> RunConfig:
    """The resolved settings of one run: study training block, overridden by the run's keys."""
    s = config["studies"][study]
    r = s["runs"][run]
    training = {key: config[key] for key in ("device", "deterministic", "precision")}
    training.update(copy.deepcopy(s.get("training", {})))
    training.update({k: copy.deepcopy(v) for k, v in r.items() if k in TRAINING_KEYS})
    if training.get("betas") is not None:
        training["betas"] = tuple(training["betas"])
    return RunConfig(
        study=study,
        run=run,
        seed=int(seed),
        dataset=s["dataset"],
        arch=r.get("arch", run),
        options=copy.deepcopy(r.get("options", {})),
        conv_impl=r.get("conv_impl", "torch"),
        resize=(r.get("input") or {}).get("resize"),
        weights=download_path(config, r["pretrained"]) if r.get("pretrained") else None,
        **training,
    )


def input_shape(config: dict, study: str, run: str) -> tuple[int, int, int]:
    """(C, H, W) a run's model sees, from its dataset's config (and the run's resize)."""
    ds = config["datasets"][config["studies"][study]["dataset"]]
    kind = ds["kind"]
    if kind == "mnist_varres":
        ds = {**ds, "size": min(ds["sizes"])}
    c, side = {
        "coco": (3, ds.get("size")),
        "cifar10": (3, 32),
        "mnist": (1, 28),
        "mnist_varres": (1, ds.get("size")),
        "imagenette": (3, ds.get("size")),
    }[kind]
    resize = (config["studies"][study]["runs"][run].get("input") or {}).get("resize")
    return (c, resize or side, resize or side)
