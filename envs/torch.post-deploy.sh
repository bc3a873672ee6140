#!/usr/bin/env bash
# Snakemake runs this once, inside the new environment: it installs the workflow's own
# cnnstudy package (editable, so the code the jobs import is the code their inputs record;
# each job checks). CNNSTUDY_CHECKOUT is set by workflow/rules/common.smk.
set -euo pipefail
python -m pip install --quiet --no-deps --no-build-isolation --editable "${CNNSTUDY_CHECKOUT:?run through the workflow: common.smk sets it}"
