from pathlib import Path

from cnnstudy.data import coco, datasets
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    spec = snakemake.params.spec
    manifest, splits = coco.build_subset(
        snakemake.params.annotation_file,
        snakemake.params.image_dir,
        Path(snakemake.output.images).parent,
        classes=spec["classes"],
        train_per_class=spec["train_per_class"],
        val_per_class=spec["val_per_class"],
        size=spec["size"],
        seed=spec["seed"],
    )
    manifest.to_csv(snakemake.output.manifest, index=False)
    saved = datasets.save(snakemake.output.data, splits, spec["classes"], meta={"source": "coco", **spec})
    log(f"{len(manifest)} images; split sha256: {saved['sha256']}")
