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

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
# Keys of a study's ``training`` block that a single run may override.
TRAINING_KEYS = {
    "optimizer", "lr", "betas", "momentum", "weight_decay", "batch_size", "epochs",
    "eval_every_steps", "eval_batch_size", "scheduler", "augment", "device", "deterministic",
}
RESULTS = "results"


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
    from .models import ARCHITECTURES

    downloads = config.get("downloads", {})
    all_datasets = config.get("datasets", {})
    for name, ds in all_datasets.items():
        refs = [(f"{part}/download", ds[part]["download"]) for part in ("annotations", "images", "archive") if part in ds]
        refs += [(f"files/{k}", v) for k, v in ds.get("files", {}).items()]
        for where, ref in refs:
            if ref not in downloads:
                raise ConfigError(f"datasets/{name}/{where} names {ref!r}, which is not under downloads: {sorted(downloads)}")
        if ds["kind"] == "mnist_varres" and all_datasets.get(ds["source"], {}).get("kind") != "mnist":
            raise ConfigError(f"datasets/{name}/source is {ds['source']!r}, which is not a dataset of kind mnist")
    for sname, study in config.get("studies", {}).items():
        if study["dataset"] not in config.get("datasets", {}):
            raise ConfigError(
                f"studies/{sname}/dataset is {study['dataset']!r}, not one of datasets: {sorted(config.get('datasets', {}))}"
            )
        for rname in study.get("reported", {}):
            if rname not in study["runs"]:
                raise ConfigError(f"studies/{sname}/reported names {rname!r}, not one of its runs {sorted(study['runs'])}")
        for comp in study.get("comparisons", []):
            for key in ("a", "b"):
                if comp[key] not in study["runs"]:
                    raise ConfigError(f"studies/{sname}/comparisons: {key}={comp[key]!r} is not one of its runs {sorted(study['runs'])}")
        for rname, run in study["runs"].items():
            if run.get("pretrained") and run["pretrained"] not in downloads:
                raise ConfigError(f"studies/{sname}/runs/{rname}/pretrained names {run['pretrained']!r}, not under downloads")
            arch = run.get("arch", rname)
            if arch not in ARCHITECTURES:
                raise ConfigError(
                    f"studies/{sname}/runs/{rname}: unknown model {arch!r}; known models: {sorted(ARCHITECTURES)}"
                )


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


def run_config(config: dict, study: str, run: str, seed: int) -> dict:
    """The resolved settings of one run: study training block, overridden by the run's keys."""
    s = config["studies"][study]
    r = s["runs"][run]
    cfg = {"device": config.get("device", "auto"), "deterministic": config.get("deterministic", True)}
    cfg.update(copy.deepcopy(s.get("training", {})))
    cfg.update({k: copy.deepcopy(v) for k, v in r.items() if k in TRAINING_KEYS})
    cfg.update(
        study=study, model=run, seed=int(seed), dataset=s["dataset"], arch=r.get("arch", run),
        options=copy.deepcopy(r.get("options", {})), conv_impl=r.get("conv_impl", "torch"),
        input=copy.deepcopy(r.get("input", {})),
    )
    if r.get("pretrained"):
        cfg["options"]["weights"] = download_path(config, r["pretrained"])
    return cfg


def input_shape(config: dict, study: str, run: str) -> tuple[int, int, int]:
    """(C, H, W) a run's model sees, from its dataset's config (and the run's resize)."""
    ds = config["datasets"][config["studies"][study]["dataset"]]
    kind = ds["kind"]
    if kind == "mnist_varres":
        ds = {**ds, "size": min(ds["sizes"])}
    c, side = {"coco": (3, ds.get("size")), "cifar10": (3, 32), "mnist": (1, 28), "mnist_varres": (1, ds.get("size")),
               "imagenette": (3, ds.get("size"))}[kind]
    resize = (config["studies"][study]["runs"][run].get("input") or {}).get("resize")
    return (c, resize or side, resize or side)
