"""cnnstudy: the package behind the CNN-study Snakemake pipeline (all logic lives here)."""

import ast
import hashlib
import json
from functools import cache
from pathlib import Path

__version__ = "0.1.0"


PACKAGE = Path(__file__).parent
# Which code a rule runs is read from the imports of its own script (and notebook), then of
# the package modules those import, transitively: rules list those files as inputs, so editing
# a module reruns exactly the rules whose scripts reach it, and no map is kept by hand.


def module_file(name: str) -> Path | None:
    """The file of package module ``name`` (``cnnstudy.x`` or ``cnnstudy.sub.x``), or None."""
    parts = name.split(".")
    if parts[0] != "cnnstudy":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["cnnstudy", *parts])


def _imports(tree: ast.AST, package: str) -> set[str]:
    """Package modules a parsed source imports; ``package``: where its relative imports start."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # a submodule imported by name
    return {name for name in found if module_file(name)}


def _source_trees(path: Path) -> list[ast.AST]:
    """A script's syntax tree, or each code cell's of a notebook."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return [ast.parse("".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    return [ast.parse(path.read_text())]


@cache
def _module_imports(name: str) -> frozenset:
    path = module_file(name)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    return frozenset(_imports(ast.parse(path.read_text()), package))


def _closure(names: set) -> list[str]:
    """The files of modules ``names``, their parent packages and all they import, transitively."""
    todo, seen = set(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parents = [".".join(name.split(".")[:i]) for i in range(1, len(name.split(".")))]
        todo |= {*_module_imports(name), *parents} - seen
    return sorted(str(module_file(name)) for name in seen)


def imported_files(*sources) -> list[str]:
    """The package files that scripts or notebooks ``sources`` run: every module they import,
    its parent packages' ``__init__``, and everything those import in turn."""
    return _closure({name for s in map(Path, sources) for tree in _source_trees(s) for name in _imports(tree, "")})


def module_files(module: str) -> list[str]:
    """The files module ``module`` runs (itself, its packages, what it imports, transitively)."""
    return _closure({module})


def code_digest(files) -> str:
    """sha256 over source files (paths inside the package and contents): ties outputs to the
    code that made them."""
    h = hashlib.sha256()
    for f in sorted(map(Path, files)):
        h.update(str(f.resolve().relative_to(PACKAGE.resolve())).encode())
        h.update(f.read_bytes())
    return h.hexdigest()
