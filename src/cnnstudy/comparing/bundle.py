"""A results bundle: one small zip of what a run of the study concluded, to publish beside a
paper and to compare other runs with. It holds the tables (runs, claims, claim_tests,
vs_reported, answers), every run's ``summary.json``, the resolved config, the provenance
(commit, code, data and weights digests, devices, package versions) and a manifest with the
sha256 of every other member; no checkpoint, no dataset. A reader verifies the manifest
before it reads a byte of a member; a results folder reads the same way (its ``provenance.json``
is written beside the tables when the bundle is)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import pandas as pd
import yaml

from cnnstudy import code_digest, paths
from cnnstudy.judging.tables import read_table
from cnnstudy.records import ClaimRow, ClaimTestRow, NumberRow, RecordError, RunSummary, read_frame, record_from

# Each table of the bundle and the record its rows are read as (None: read as a plain table)
TABLES = {"runs": None, "claims": ClaimRow, "claim_tests": ClaimTestRow, "vs_reported": NumberRow, "answers": None}
MANIFEST, PROVENANCE, CONFIG = "manifest.json", "provenance.json", "config.yaml"
PACKAGES = ("cnnstudy", "torch", "torchvision", "numpy", "pandas", "scipy", "statsmodels", "snakemake")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # members carry no mtime: equal contents give equal members


class BundleError(RecordError):
    """A bundle or results folder that is damaged, edited or incomplete."""


@dataclass(frozen=True)
class Provenance:
    """Where a run of the study came from (``provenance.json``)."""

    VERSION: ClassVar[int] = 1

    commit: str  # the git commit of the pipeline when bundled ("unknown" outside a checkout)
    config_sha256: str  # of the resolved config (config.yaml in the bundle)
    tables_code_sha256: str  # of the package code that wrote the tables (aggregate, answers, claims)
    training_code_sha256: list  # the distinct digests of the code the runs trained with
    data_sha256: dict  # dataset -> its digests, as the runs read it
    weights_sha256: list  # the distinct pretrained weights the runs started from
    devices: list  # the devices the runs trained on
    versions: dict  # package -> version when bundled
    created: str  # UTC, ISO 8601
    runs: int
    version: int = VERSION


@dataclass(frozen=True)
class Bundle:
    """What a bundle (or a results folder) holds, read and verified."""

    source: str
    provenance: Provenance
    tables: dict  # name of TABLES -> DataFrame
    summaries: list  # RunSummary of every run in the runs table


def git_commit(directory) -> str:
    """The checkout's commit, with "+ uncommitted changes" where its tracked files differ."""
    try:
        run = lambda *a: subprocess.run(["git", "-C", str(directory), *a], capture_output=True, text=True, check=True)  # noqa: E731
        commit = run("rev-parse", "HEAD").stdout.strip()
        dirty = run("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" + uncommitted changes" if dirty else "")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance_of(summaries: list[RunSummary], config: dict, commit: str, tables_code: list) -> Provenance:
    data = {s.dataset: s.data_sha256 for s in summaries}
    return Provenance(
        commit=commit,
        config_sha256=hashlib.sha256(config_text(config).encode()).hexdigest(),
        tables_code_sha256=code_digest(sorted(set(tables_code))),
        training_code_sha256=sorted({s.code_sha256 for s in summaries}),
        data_sha256=dict(sorted(data.items())),
        weights_sha256=sorted({s.weights_sha256 for s in summaries if s.weights_sha256}),
        devices=sorted({f"{s.device} ({s.device_name})" for s in summaries}),
        versions={p: _version(p) for p in PACKAGES},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        runs=len(summaries),
    )


def config_text(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=True, allow_unicode=True)


def summary_member(s: RunSummary) -> str:
    return f"{paths.run_dir(s.study, s.model, s.seed, root='')}/summary.json"


def write_bundle(path, tables: dict, summaries: list, config: dict, provenance: Provenance) -> None:
    """The bundle at ``path``: ``tables`` (name -> csv file), the runs' summaries (RunSummary),
    the config and provenance, then the manifest of their sha256."""
    members = {f"tables/{name}.csv": Path(tables[name]).read_bytes() for name in TABLES}
    members |= {summary_member(s): _json(dataclasses.asdict(s)) for s in summaries}
    members[CONFIG] = config_text(config).encode()
    members[PROVENANCE] = _json(dataclasses.asdict(provenance))
    manifest = {name: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for name, b in members.items()}
    members[MANIFEST] = _json(manifest)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(members):
            z.writestr(zipfile.ZipInfo(name, ZIP_TIME), members[name], zipfile.ZIP_DEFLATED)
    tmp.replace(path)


def _json(data) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, default=str).encode()


REBUILD = "rebuild it (snakemake --cores 1 results/bundle.zip, with the configs of its run) or use an intact copy"


def _verified_members(path: Path) -> dict:
    """Every member of the zip at ``path``, checked against its manifest."""
    try:
        with zipfile.ZipFile(path) as z:
            members = {name: z.read(name) for name in z.namelist()}
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path} is not a readable bundle ({exc}); {REBUILD}") from None
    if MANIFEST not in members:
        raise BundleError(f"{path} has no {MANIFEST}: not a results bundle; {REBUILD}")
    manifest = json.loads(members.pop(MANIFEST))
    extra, missing = sorted(set(members) - set(manifest)), sorted(set(manifest) - set(members))
    if extra or missing:
        raise BundleError(f"{path}: member(s) {missing} missing, {extra} not in its manifest; {REBUILD}")
    for name, data in members.items():
        if hashlib.sha256(data).hexdigest() != manifest[name]["sha256"]:
            raise BundleError(f"{path}: member {name} does not match its sha256 in {MANIFEST}; {REBUILD}")
    return members


def manifest_of(path) -> dict:
    """The manifest of the bundle at ``path`` (member -> sha256 and bytes), once verified."""
    members = _verified_members(Path(path))
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read(MANIFEST))
    return {name: manifest[name] for name in sorted(members)}


def read_bundle(path) -> Bundle:
    """A bundle (zip) or a results folder, read and verified; a BundleError names what is wrong."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    members = _verified_members(path)
    where = lambda name: f"{path}!{name}"  # noqa: E731
    tables = {name: _table(name, io.BytesIO(members[f"tables/{name}.csv"]), where(f"tables/{name}.csv"))
              for name in TABLES}  # fmt: skip
    summaries = [record_from(RunSummary, json.loads(data), where(name)) for name, data in members.items()
                 if name.endswith("/summary.json")]  # fmt: skip
    provenance = record_from(Provenance, json.loads(members[PROVENANCE]), where(PROVENANCE))
    return Bundle(str(path), provenance, tables, _of_runs(summaries, tables["runs"], path))


def _table(name: str, source, label: str) -> pd.DataFrame:
    cls = TABLES[name]
    return read_table(source) if cls is None else read_frame(cls, source, label)


def folder_files(folder) -> dict:
    """The files of a results folder a comparison reads: its tables and its provenance."""
    folder = Path(folder)
    return {name: folder / "tables" / f"{name}.csv" for name in TABLES} | {PROVENANCE: folder / PROVENANCE}


def _read_folder(folder: Path) -> Bundle:
    files = folder_files(folder)
    absent = [str(f) for f in files.values() if not f.is_file()]
    if absent:
        raise BundleError(f"{folder} is not a finished results folder: {absent} missing; run the pipeline there, "
                          f"its bundle rule included (snakemake --cores N)")  # fmt: skip
    tables = {name: _table(name, files[name], str(files[name])) for name in TABLES}
    found = folder.glob("runs/*/*/seed*/summary.json")
    summaries = [record_from(RunSummary, json.loads(f.read_text()), f) for f in found]
    provenance = record_from(Provenance, json.loads(files[PROVENANCE].read_text()), files[PROVENANCE])
    return Bundle(str(folder), provenance, tables, _of_runs(summaries, tables["runs"], folder))


def _of_runs(summaries: list, runs: pd.DataFrame, where) -> list:
    """The summaries of the runs table's runs (a folder may hold runs of an earlier selection);
    every run of the table must have one."""
    by_key = {(s.study, s.model, s.seed): s for s in summaries}
    keys = list(zip(runs.study, runs.model, runs.seed))
    lost = [k for k in keys if k not in by_key]
    if lost:
        raise BundleError(f"{where}: no summary.json for run(s) {lost[:3]} of its runs table; {REBUILD}")
    return [by_key[k] for k in keys]
