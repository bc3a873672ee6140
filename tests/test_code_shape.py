"""The package stays readable: short functions, few positional parameters, one list of keys."""

import ast
from pathlib import Path

import yaml
from conftest import ROOT

import cnnstudy
from cnnstudy import PACKAGE, imported_files
from cnnstudy.config import SCHEMA, TRAINING_KEYS

MAX_LINES, MAX_POSITIONAL = 60, 6


def _functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield str(path.relative_to(PACKAGE)), node


def test_no_function_is_longer_than_60_lines_or_takes_more_than_6_positional_parameters():
    too_long, too_wide = [], []
    for name, fn in _functions():
        if fn.end_lineno - fn.lineno + 1 > MAX_LINES:
            too_long.append(f"{name}:{fn.name}")
        positional = [a.arg for a in fn.args.posonlyargs + fn.args.args]
        # torch.autograd.Function.forward/backward take their inputs positionally by torch's contract
        if positional[:1] != ["ctx"] and len(positional) > MAX_POSITIONAL:
            too_wide.append(f"{name}:{fn.name}")
    assert not too_long and not too_wide, (too_long, too_wide)


def test_a_run_accepts_every_training_key_and_the_schema_lists_them_once():
    schema = yaml.safe_load(SCHEMA.read_text())
    study = schema["properties"]["studies"]["additionalProperties"]
    run_keys = set(study["properties"]["runs"]["additionalProperties"]["properties"])
    own = {"arch", "options", "conv_impl", "pretrained", "input", "seeds", "reading"}
    assert run_keys == TRAINING_KEYS | own  # a training key added to one place only fails here


def _names(files) -> set:
    return {str(Path(f).relative_to(PACKAGE)) for f in files}


def test_a_rules_code_is_what_its_script_imports_transitively():
    """The train script imports cnnstudy.data.download (to re-verify weights): the old hand-kept map
    missed it; reading the script's own imports cannot."""
    train = _names(imported_files(ROOT / "workflow" / "scripts" / "train.py"))
    assert {"training/train.py", "training/inputs.py", "training/checkpoint.py", "nets/models.py",
            "nets/architectures.py", "training/augment.py", "data/datasets.py", "data/download.py", "records.py",
            "__init__.py", "training/__init__.py", "nets/__init__.py"} <= train  # fmt: skip
    assert not any(name.startswith(("report/", "judging/")) for name in train), train
    notebook = _names(imported_files(ROOT / "workflow" / "notebooks" / "study_analysis.ipynb"))
    assert {"judging/tables.py", "escape.py", "records.py"} <= notebook  # what its code cells import


def test_imports_are_followed_through_sub_packages_and_a_module_no_script_imports_is_no_input(tmp_path, monkeypatch):
    pkg = tmp_path / "cnnstudy"
    files = {
        "__init__.py": "",
        "top.py": "from .nets import conv\nfrom . import shared\n",
        "shared.py": "X = 1\n",
        "nets/__init__.py": "from .gate import check\n",
        "nets/conv.py": "from ..shared import X\n",
        "nets/gate.py": "def check():\n    pass\n",
        "orphan.py": "from . import shared\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    script = tmp_path / "script.py"
    script.write_text("from cnnstudy.top import conv\nimport numpy\n")
    monkeypatch.setattr(cnnstudy, "PACKAGE", pkg)
    cnnstudy._module_imports.cache_clear()
    try:
        found = {str(Path(f).relative_to(pkg)) for f in imported_files(script)}
    finally:
        cnnstudy._module_imports.cache_clear()
    assert found == {"__init__.py", "top.py", "shared.py", "nets/__init__.py", "nets/conv.py", "nets/gate.py"}


def test_augmentation_switches_are_the_schemas():
    from cnnstudy.training import augment

    schema = yaml.safe_load(SCHEMA.read_text())
    assert set(schema["$defs"]["augment"]["properties"]) == augment.KEYS
