"""cnnstudy: the package behind the CNN-study Snakemake pipeline (all logic lives here)."""

import hashlib
from pathlib import Path

__version__ = "0.1.0"


def code_digest() -> str:
    """sha256 over the package's source files: ties every output to the code that made it."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()
