"""Load, validate and expand the pipeline config: which runs exist and what each one is.

The same functions serve the Snakefile (to plan jobs) and the tests, so a config that plans
is a config that trains. Validation is the JSON schema in ``cnnstudy/schemas`` plus the
cross-references a schema cannot express (a study naming an unknown dataset, ...).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from cnnstudy import preflight
from cnnstudy.data.class_names import class_names
from cnnstudy.judging.kinds import KINDS, Known
from cnnstudy.nets.architectures import ARCHITECTURES, ModelConfigError, resolve_options
from cnnstudy.nets.conv_cases import case_names
from cnnstudy.runconfig import RunConfig

# package data: found wherever the package is installed (pip install ., not only editable)
SCHEMA = Path(__file__).resolve().parent / "schemas" / "config.schema.yaml"
SCHEMA_NAME = "src/cnnstudy/schemas/config.schema.yaml"
from cnnstudy.paths import RESULTS  # noqa: E402 - re-exported: the folder every output goes to

# Datasets whose images have one channel: colour jitter that needs colour is meaningless there.
GRAYSCALE_KINDS = {"mnist", "mnist_varres"}


# Keys of a study's ``training`` block that a single run may override: the schema's list.
TRAINING_KEYS = frozenset(yaml.safe_load(SCHEMA.read_text())["$defs"]["training"]["properties"])


class ConfigError(ValueError):
    """The config is invalid; the message names the key and the fix."""


def validate(config: dict, schema_path: str | Path = SCHEMA) -> dict:
    """Validate against the JSON schema (filling defaults) and check cross-references."""
    import jsonschema

    schema = load_schema(schema_path)
    validator_cls = jsonschema.validators.validator_for(schema)

    def set_defaults(validator, properties, instance, schema):
        for prop, sub in properties.items():
            if isinstance(instance, dict) and isinstance(sub, dict) and "default" in sub:
                instance.setdefault(prop, copy.deepcopy(sub["default"]))
        yield from validator_cls.VALIDATORS["properties"](validator, properties, instance, schema)

    filling = jsonschema.validators.extend(validator_cls, {"properties": set_defaults})
    _check_claim_places(config)
    errors = _specific(sorted(filling(schema).iter_errors(config), key=lambda e: list(e.absolute_path)))
    if errors:
        lines = [f"  at {'/'.join(map(str, e.absolute_path)) or '<top>'}: {_bounded(e.message)}" for e in errors[:10]]
        raise ConfigError(f"config does not match the schema ({SCHEMA_NAME}):\n" + "\n".join(lines))
    check_references(config)
    return config


def load_schema(path: str | Path = SCHEMA) -> dict:
    """The config schema: the YAML file, and each claim kind's keys from its registry entry
    (:mod:`cnnstudy.judging.kinds`): under a study every study kind, under conv_tests the
    gate's kinds, each refusing the other place's kinds."""
    schema = yaml.safe_load(Path(path).read_text())
    defs = schema["$defs"]
    defs["claim_common"]["properties"]["kind"] = {"enum": list(KINDS)}
    for name, on_gate in (("claim", False), ("conv_claim", True)):
        here = [k for k, kind in KINDS.items() if kind.on_gate == on_gate]
        branches = [
            {"if": {"properties": {"kind": {"const": k}}}, "then": copy.deepcopy(KINDS[k].schema)} for k in here
        ]
        elsewhere = {"if": {"properties": {"kind": {"not": {"enum": here}}}}, "then": False}
        defs[name]["allOf"] = [*branches, elsewhere]
    return schema


def _specific(errors: list) -> list:
    """The errors that say what is wrong: an ``unevaluatedProperties`` error ("'run', 'value'
    were unexpected") only echoes a failed branch whose own error is listed too."""
    paths = [tuple(e.absolute_path) for e in errors if e.validator != "unevaluatedProperties"]
    return [
        e
        for e in errors
        if e.validator != "unevaluatedProperties"
        or not any(p[: len(e.absolute_path)] == tuple(e.absolute_path) for p in paths)
    ]


CONV_KINDS = tuple(k for k, kind in KINDS.items() if kind.on_gate)  # claims about the hand-written convolutions


def _check_claim_places(config: dict) -> None:
    """A convolution claim under a study, or a study claim under conv_tests, said plainly (the
    schema alone can only say "False schema does not allow")."""
    for sname, study in (config.get("studies") or {}).items():
        for i, c in enumerate((study or {}).get("claims") or []):
            if isinstance(c, dict) and c.get("kind") in CONV_KINDS:
                raise ConfigError(
                    f"studies/{sname}/claims/{i} ({c.get('id')}): kind {c['kind']!r} is a claim about the hand-written "
                    "convolutions, judged on the gate's table; move it under conv_tests/claims and give it a report"
                )
    for i, c in enumerate(((config.get("conv_tests") or {}).get("claims")) or []):
        if isinstance(c, dict) and "kind" in c and c["kind"] not in CONV_KINDS:
            raise ConfigError(
                f"conv_tests/claims/{i} ({c.get('id')}): kind {c['kind']!r} is judged from a study's runs; move it "
                f"under the claims of the study it is about (conv_tests/claims take only {list(CONV_KINDS)})"
            )


def _bounded(message: str, limit: int = 300) -> str:
    """A validation message cut to ``limit`` characters: it quotes the offending value whole."""
    return message if len(message) <= limit else message[:limit] + f"... ({len(message):,} characters)"


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
    _check_claims(config)
    _check_select(config)
    _check_reference(config)
    unknown = sorted(set(config.get("sources", {})) - set(downloads))
    if unknown:
        raise ConfigError(f"sources names {unknown}, not under downloads: {sorted(downloads)}")


def _check_reference(config: dict) -> None:
    reference = config.get("reference") or ""
    if not reference:
        return
    path = Path(reference)
    if not path.exists():
        raise ConfigError(f"reference: {reference!r} does not exist; give a results bundle (a copy of "
                          f"{RESULTS}/bundle.zip) or a results folder, or leave it empty")  # fmt: skip
    ours = {Path(RESULTS).resolve(), (Path(RESULTS) / "bundle.zip").resolve()}
    if path.resolve() in ours:
        raise ConfigError(f"reference: {reference!r} is this run's own results, which the comparison rewrites; "
                          f"copy the bundle elsewhere first (cp {RESULTS}/bundle.zip reference.zip)")  # fmt: skip


def _check_select(config: dict) -> None:
    train = config.get("resources", {}).get("train", {})
    for key, entries in (("select", config.get("select") or []), ("resources/train/share", train.get("share", []))):
        _check_run_names(config, key, entries)
    if train.get("share") and not train.get("gpus"):
        raise ConfigError("resources/train/share lets training jobs share a GPU, but resources/train/gpus is 0 "
                          "(no job asks for a GPU): set gpus, or leave share empty")  # fmt: skip


def _check_run_names(config: dict, key: str, entries: list) -> None:
    studies = config.get("studies", {})
    for entry in entries:
        study, _, run = str(entry).partition("/")
        if study not in studies or (run and run not in studies[study]["runs"]):
            known = sorted(studies) if study not in studies else [f"{study}/{r}" for r in studies[study]["runs"]]
            raise ConfigError(f"{key} names {entry!r}, which is not a study or study/run of this config: {known}")


def shares_gpu(config: dict, study: str, run: str) -> bool:
    """Whether the run's training jobs share a GPU (resources.train.share) instead of holding one."""
    share = config["resources"]["train"]["share"]
    return study in share or f"{study}/{run}" in share


def _check_study(config: dict, sname: str, study: dict) -> None:
    datasets = config.get("datasets", {})
    if study["dataset"] not in datasets:
        raise ConfigError(f"studies/{sname}/dataset is {study['dataset']!r}, not one of datasets: {sorted(datasets)}")
    if study["report"] not in config.get("reports", {}):
        raise ConfigError(
            f"studies/{sname}/report is {study['report']!r}, not one of reports: {sorted(config['reports'])}"
        )
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


@dataclass(frozen=True)
class Claim:
    """One claim of a source report: its words, its kind and what it names (``spec``: the
    kind's own keys, e.g. ``a``, ``b``, ``direction``), and where it lives in the config."""

    id: str
    report: str
    study: str  # "" for a claim about the hand-written convolutions
    kind: str
    quote: str
    reported_metric: str
    spec: dict
    where: str  # its config path, for messages
    reading: str = ""  # the set-up the report leaves open and we chose, for the runs it names ("": as stated)


CLAIM_KEYS = ("id", "kind", "quote", "reported_metric", "report")


def all_claims(config: dict) -> list[Claim]:
    """Every claim of the config, in config order: the studies' and the convolution gate's."""
    out = []
    for sname, study in config.get("studies", {}).items():
        for i, c in enumerate(study.get("claims", [])):
            where = f"studies/{sname}/claims/{i} ({c['id']})"
            metric = c.get("reported_metric", study.get("reported_metric", ""))
            claim = _claim(c, study["report"], sname, metric, where)
            out.append(dataclasses.replace(claim, reading=reading_of(study, claim_runs(claim))))
    for i, c in enumerate(config.get("conv_tests", {}).get("claims", [])):
        out.append(_claim(c, c["report"], "", c.get("reported_metric", ""), f"conv_tests/claims/{i} ({c['id']})"))
    return out


def _claim(entry: dict, report: str, study: str, metric: str, where: str) -> Claim:
    spec = {k: copy.deepcopy(v) for k, v in entry.items() if k not in CLAIM_KEYS}
    return Claim(entry["id"], report, study, entry["kind"], entry["quote"], metric, spec, where)


def reading_of(study: dict, runs: list[str]) -> str:
    """Our reading of the set-up behind runs of a study: the study's, then each run's."""
    parts = [study.get("reading", "")] + [study["runs"][r].get("reading", "") for r in dict.fromkeys(runs)
                                          if r in study["runs"]]  # fmt: skip
    return "; ".join(p for p in parts if p)


def expected_at_chance(config: dict) -> set[tuple[str, str]]:
    """(study, run) that a chance claim names: they are not collapsed when they end at chance."""
    return {(c.study, c.spec["run"]) for c in all_claims(config) if c.kind == "chance"}


def claim_runs(claim: Claim) -> list[str]:
    """The runs a claim names (its kind's registry entry says which keys name them)."""
    return KINDS[claim.kind].runs(claim.spec)


def _check_claims(config: dict) -> None:
    """A claim naming a run, class, case or report that does not exist fails here, naming the key."""
    seen = {}
    for claim in all_claims(config):
        if claim.id in seen:
            raise ConfigError(f"{claim.where}: claim id {claim.id!r} is used twice (also {seen[claim.id]})")
        seen[claim.id] = claim.where
        if claim.report not in config.get("reports", {}):
            raise ConfigError(
                f"{claim.where}/report is {claim.report!r}, not one of reports: {sorted(config['reports'])}"
            )
        if claim.study:
            _check_study_claim(config, claim)
        problem = KINDS[claim.kind].check(claim.spec, _known(config, claim))
        if problem:
            raise ConfigError(f"{claim.where}: {problem}")


def _known(config: dict, claim: Claim) -> Known:
    """What a kind's load-time check compares a claim with."""
    dataset = config["studies"][claim.study]["dataset"] if claim.study else None
    return Known(classes=class_names(config["datasets"], dataset) if dataset else [], cases=case_names())


def _check_study_claim(config: dict, claim: Claim) -> None:
    study = config["studies"][claim.study]
    for run in claim_runs(claim):
        if run not in study["runs"]:
            raise ConfigError(f"{claim.where} names run {run!r}, not one of the study's runs {sorted(study['runs'])}")


def texts_digest(value) -> str:
    """sha256 of the free text a rule reads from the config (quotes, titles, questions): its
    param, so an edit reruns the rule, while the text never enters params (Snakemake embeds a
    report job's params unescaped in the report's ``<script>`` block); the job reads the text
    from the config."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def comparisons_of(config: dict) -> dict:
    """Per selected study, the config's questions (pairs of runs)."""
    return {s: {"comparisons": config["studies"][s].get("comparisons", [])} for s in selected_studies(config)}


def page_texts(config: dict) -> dict:
    """The front page's texts: each selected study's title, source and report, the reports."""
    keys = ("title", "source", "report")
    studies = {s: {k: config["studies"][s].get(k, "") for k in keys} for s in selected_studies(config)}
    return {"studies": studies, "reports": config["reports"]}


def download_path(config: dict, name: str) -> str:
    """Where download ``name`` lands: results/downloads/<name>/<last part of its URL>."""
    return f"{RESULTS}/downloads/{name}/{os.path.basename(config['downloads'][name]['url'].rstrip('/'))}"


def sorted_keys(value):
    """``value`` with every mapping's keys in sorted order (lists keep theirs)."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def merge(base: dict, overlay: dict) -> dict:
    """``overlay`` laid over ``base`` as Snakemake merges several ``--configfile``: mappings
    merge key by key, anything else (lists, numbers) is replaced."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        under = out.get(key) if isinstance(out.get(key), dict) else {}
        out[key] = merge(under, value) if isinstance(value, dict) else copy.deepcopy(value)
    return out


def prepare(config: dict, paths) -> dict:
    """The one way a config is taken in, by Snakemake (its merged ``config`` and
    ``workflow.configfiles``) and by every command (:func:`load`): each file re-read as YAML
    nodes (duplicate keys and alias bombs refused, naming the file), then the merged config
    validated against the schema (defaults filled) and its keys sorted (Snakemake compares
    params as text: a config whose keys were only reordered reruns nothing)."""
    for path in paths:
        preflight.check_config_file(path)
    return sorted_keys(validate(config))


def load(*paths: str | os.PathLike) -> dict:
    """The config of one file, or of several laid over each other in order (the demo is
    ``config/config.yaml`` with ``config/demo.yaml`` over it), through :func:`prepare`."""
    config = {}
    for path in paths:
        preflight.check_config_file(path)  # before anything expands its aliases
        with open(path) as f:
            content = yaml.safe_load(f) or {}
        if not isinstance(content, dict):
            raise ConfigError(f"{path}: a config is a mapping of keys, not a {type(content).__name__}")
        config = merge(config, content)
    return prepare(config, ())


def is_selected(config: dict, study: str, run: str) -> bool:
    """``select`` lists studies and study/run pairs to run; empty selects everything."""
    chosen = config.get("select") or []
    return not chosen or study in chosen or f"{study}/{run}" in chosen


def selected_studies(config: dict) -> list[str]:
    """The studies with at least one selected run, in config order."""
    return list(dict.fromkeys(s for s, _, _ in runs(config)))


def datasets_needed(config: dict) -> list[str]:
    """The datasets the selected studies train on, and the datasets those are derived from."""
    todo = [config["studies"][s]["dataset"] for s in selected_studies(config)]
    needed = []
    while todo:
        name = todo.pop(0)
        if name not in needed:
            needed.append(name)
            todo += [config["datasets"][name]["source"]] if "source" in config["datasets"][name] else []
    return [d for d in config["datasets"] if d in needed]


def downloads_needed(config: dict) -> list[str]:
    """The downloads the needed datasets and the selected runs' pretrained weights read."""
    names = []
    for d in datasets_needed(config):
        spec = config["datasets"][d]
        names += [spec[part]["download"] for part in ("annotations", "images", "archive") if part in spec]
        names += list(spec.get("files", {}).values())
    names += [config["studies"][s]["runs"][r].get("pretrained") for s, r, _ in runs(config)]
    return [n for n in config["downloads"] if n in names]


def seeds_of(config: dict, study: str, run: str | None = None) -> list[int]:
    s = config["studies"][study]
    if run is not None and "seeds" in s["runs"][run]:
        return list(s["runs"][run]["seeds"])
    return list(s.get("seeds", config["seeds"]))


def runs(config: dict) -> list[tuple[str, str, int]]:
    """Every selected (study, run, seed) job of the config, in config order."""
    return [
        (sname, rname, seed)
        for sname, study in config["studies"].items()
        for rname in study["runs"]
        if is_selected(config, sname, rname)
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
