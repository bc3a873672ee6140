"""cnnstudy: the package behind the CNN-study Snakemake pipeline (all logic lives here)."""

import hashlib
from pathlib import Path

__version__ = "0.1.0"


PACKAGE = Path(__file__).parent
# The modules each pipeline stage runs: rules list them as inputs, so editing one reruns
# exactly the stages that use it.
STAGE_MODULES = {
    "download": ["download.py", "logs.py"],
    "demo": ["demo_data.py", "formats.py", "logs.py"],
    "datasets": ["coco.py", "prepare.py", "formats.py", "datasets.py", "logs.py"],
    "conv": ["conv.py", "conv_check.py", "logs.py"],
    "train": ["train.py", "models.py", "conv.py", "augment.py", "datasets.py", "logs.py"],
    "aggregate": ["aggregate.py", "logs.py"],
    "figures": ["plots.py", "aggregate.py", "datasets.py", "logs.py"],
    "notebooks": ["notebooks.py", "conv.py", "conv_check.py", "logs.py"],
    "interpret": ["interpret.py", "plots.py", "models.py", "train.py", "conv.py", "augment.py", "datasets.py", "logs.py"],
}


def stage_files(stage: str) -> list[str]:
    return [str(PACKAGE / m) for m in STAGE_MODULES[stage]]


def code_digest(files) -> str:
    """sha256 over source files (names and contents): ties outputs to the code that made them."""
    h = hashlib.sha256()
    for f in sorted(map(Path, files)):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()
