from pathlib import Path

from cnnstudy.demo_data import make_coco
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    paths = make_coco(Path(snakemake.output.images).parent, **snakemake.params.settings)
    for key, path in paths.items():
        log(f"wrote {path}")
