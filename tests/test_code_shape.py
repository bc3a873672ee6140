"""The package stays readable: short functions, few positional parameters, one list of keys."""

import ast

import yaml

from cnnstudy import PACKAGE, STAGE_ENTRIES, package_imports, stage_modules
from cnnstudy.config import SCHEMA, TRAINING_KEYS

MAX_LINES, MAX_POSITIONAL = 60, 6


def _functions():
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.name, node


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
    own = {"arch", "options", "conv_impl", "pretrained", "input", "seeds"}
    assert run_keys == TRAINING_KEYS | own  # a training key added to one place only fails here


def test_every_module_a_stage_imports_is_an_input_of_that_stage():
    for stage in STAGE_ENTRIES:
        modules = set(stage_modules(stage))
        for module in modules:
            assert package_imports(module) <= modules, (stage, module)
    assert {"train", "inputs", "checkpoint", "models", "architectures", "augment", "datasets"} <= set(
        stage_modules("train")
    )


def test_augmentation_switches_are_the_schemas():
    from cnnstudy import augment

    schema = yaml.safe_load(SCHEMA.read_text())
    assert set(schema["$defs"]["augment"]["properties"]) == augment.KEYS
