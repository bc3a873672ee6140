"""Checks made when the workflow loads, before the config is validated or any job runs.

A config file is read again as YAML nodes: a mapping key given twice (YAML keeps the last
one silently: a duplicated run would vanish) and aliases that expand past a sane size (a few
nested anchors make billions of values; the validator would hang formatting them) are refused,
naming the key. The results folder must be writable, or the workflow stops naming it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

MAX_VALUES = 100_000  # the full study's config holds about 3,000; a bomb, billions


class PreflightError(ValueError):
    """The workflow cannot start; the message names the file or key and the fix."""


def _key(node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "<complex key>"


def _check_keys(node: yaml.MappingNode, where: str, path: Path) -> None:
    seen = set()
    for key, _ in node.value:
        name = _key(key)
        if name in seen:
            line, key_path = key.start_mark.line + 1, f"{where}/{name}".lstrip("/")
            raise PreflightError(
                f"{path}, line {line}: {key_path} is given twice in one mapping; YAML would keep only the last "
                "one. Rename or remove one of them"
            )
        seen.add(name)


def _children(node, where: str) -> list:
    if isinstance(node, yaml.MappingNode):
        return [(f"{where}/{_key(k)}", v) for k, v in node.value]
    if isinstance(node, yaml.SequenceNode):
        return [(f"{where}/{i}", v) for i, v in enumerate(node.value)]
    return []


def _sizes(root, path: Path) -> dict:
    """Values under each node with every alias expanded, memoized per node (aliases share
    nodes), so a bomb is measured in linear time; duplicate keys and alias cycles refused."""
    sizes, stack, on_stack = {}, [(root, "", False)], set()
    while stack:
        node, where, done = stack.pop()
        if done:
            on_stack.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for _, child in _children(node, where))
            continue
        if id(node) in sizes:
            continue
        if id(node) in on_stack:
            raise PreflightError(f"{path}: {where.lstrip('/') or '<top>'} refers to itself through a YAML alias")
        if isinstance(node, yaml.MappingNode):
            _check_keys(node, where, path)
        on_stack.add(id(node))
        stack.append((node, where, True))
        stack += [(child, w, False) for w, child in _children(node, where)]
    return sizes


def _largest_path(node, sizes: dict, where: str = "") -> tuple[str, int]:
    """The deepest mapping key whose value alone expands past the limit: where the aliases are."""
    while isinstance(node, yaml.MappingNode):
        big = [(w, child) for w, child in _children(node, where) if sizes[id(child)] > MAX_VALUES]
        if not big:
            break
        where, node = max(big, key=lambda pair: sizes[id(pair[1])])
    return where.lstrip("/") or "<top>", sizes[id(node)]


def check_config_file(path: str | Path) -> None:
    """Refuse a config file with a duplicated mapping key or aliases expanding past MAX_VALUES."""
    path = Path(path)
    try:
        with open(path) as f:
            root = yaml.compose(f, Loader=yaml.SafeLoader)
    except OSError as exc:
        raise PreflightError(f"config file {path} cannot be read ({exc.strerror or exc}); check the path") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f", line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PreflightError(f"{path}{line}: not valid YAML ({problem}); fix the file there") from None
    if root is None:
        return
    sizes = _sizes(root, path)
    if sizes[id(root)] > MAX_VALUES:
        where, size = _largest_path(root, sizes)
        raise PreflightError(
            f"{path}: {where} expands to {size:,} values through YAML aliases (at most {MAX_VALUES:,} are "
            "read); write the values out, or remove the anchors and aliases"
        )


def check_writable(folder: str | Path) -> None:
    """Fail now, naming the folder, if the pipeline cannot write its results there."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".writable-"):
            pass
    except OSError as exc:
        raise PreflightError(
            f"cannot write to {folder.absolute()} ({exc.strerror or exc}): every output of the pipeline goes "
            f"there. Run from a folder you can write to, or make {folder} writable"
        ) from None
