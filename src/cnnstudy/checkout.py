"""Which checkout's code a job runs. The workflow's inputs record the digests of its own
``src/cnnstudy``; a job that imported another copy (an older install, another clone's conda
environment) would write outputs that say one code and hold another. So the Snakefile names
its checkout in ``CNNSTUDY_CHECKOUT`` and every script checks, at its start, that the package
it imported lives there."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Set by workflow/rules/common.smk; jobs inherit it, the conda envs' post-deploy scripts read it.
CHECKOUT_VARIABLE = "CNNSTUDY_CHECKOUT"


class WrongCheckoutError(RuntimeError):
    """The cnnstudy package a process imports is not the workflow's own."""


def package_dir(checkout: Path) -> Path:
    return Path(checkout, "src", "cnnstudy").resolve()


def check_package(checkout: Path, package_file: str | None, python: str) -> None:
    """Fail naming both places unless ``package_file`` (an ``__init__.py``, None when the
    package is not importable) lies in ``checkout``'s ``src/cnnstudy``."""
    expected = package_dir(checkout)
    found = Path(package_file).resolve().parent if package_file else None
    if found == expected:
        return
    where = f"imports cnnstudy from {found}" if found else "cannot import cnnstudy"
    raise WrongCheckoutError(
        f"{python} {where}, not from this workflow's code ({expected}): its jobs would run other "
        f"code than the code their outputs record. Install this checkout into it "
        f"(`{python} -m pip install -e {Path(checkout).resolve()}`; `make` does this into .venv), "
        "or run with `--sdm conda`, whose environments install it."
    )


def check_this_process() -> None:
    """In a job: the imported package is the workflow's (no-op outside a workflow)."""
    checkout = os.environ.get(CHECKOUT_VARIABLE)
    if checkout:
        import cnnstudy

        check_package(Path(checkout), cnnstudy.__file__, sys.executable)
