from pathlib import Path

from cnnstudy.data import demo_data
from cnnstudy.logs import script_log

MAKERS = {
    "demo_coco_source": demo_data.make_coco,
    "demo_cifar10_source": demo_data.make_cifar10,
    "demo_mnist_source": demo_data.make_mnist,
    "demo_imagenette_source": demo_data.make_imagenette,
    "demo_resnet18_source": demo_data.make_resnet18_weights,
}

with script_log(snakemake.log[0]) as log:
    made = MAKERS[snakemake.rule](Path(snakemake.output[0]).parent, **snakemake.params.settings)
    missing = set(map(str, snakemake.output)) - {str(p) for p in made.values()}
    assert not missing, f"generator did not write {missing}"
    for path in made.values():
        log(f"wrote {path}")
