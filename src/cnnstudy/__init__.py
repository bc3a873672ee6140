"""cnnstudy: the package behind the CNN-study Snakemake pipeline (all logic lives here)."""

import ast
import hashlib
from functools import cache
from pathlib import Path

__version__ = "0.1.0"


PACKAGE = Path(__file__).parent
# The modules each pipeline stage calls into. The modules they import in turn are found by
# reading the package's own imports (``package_imports``), so the map cannot go stale:
# rules list a stage's files as inputs, and editing one reruns exactly the stages using it.
STAGE_ENTRIES = {
    "download": ["download", "logs"],
    "demo": ["demo_data", "logs"],
    "datasets": ["coco", "prepare", "datasets", "logs"],
    "conv": ["conv_check", "logs"],
    "train": ["train", "logs"],
    "aggregate": ["aggregate", "logs"],
    "figures": ["plots", "pages", "datasets", "logs"],
    "notebooks": ["notebooks", "conv_check", "aggregate", "escape", "logs"],  # what the notebooks import
    "interpret": ["interpret", "plots", "logs"],
    "performance": ["projection", "plots", "pages", "logs"],
    "report": ["front_page", "pages", "aggregate", "logs"],
    "claims": ["claims", "pages", "logs"],
}


@cache
def package_imports(module: str) -> frozenset:
    """The package modules ``module`` imports (``from . import x``, ``from .x import y``)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names if (PACKAGE / f"{alias.name}.py").exists())
    return frozenset(found)


def stage_modules(stage: str) -> list:
    """A stage's entry modules and everything they import from the package, transitively."""
    seen, todo = set(), list(STAGE_ENTRIES[stage])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += package_imports(module)
    return sorted(seen)


def stage_files(stage: str) -> list:
    return [str(PACKAGE / f"{m}.py") for m in stage_modules(stage)]


def code_digest(files) -> str:
    """sha256 over source files (names and contents): ties outputs to the code that made them."""
    h = hashlib.sha256()
    for f in sorted(map(Path, files)):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()
