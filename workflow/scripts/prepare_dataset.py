from cnnstudy import datasets, prepare
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    spec = snakemake.params.spec
    inputs = {k: v for k, v in snakemake.input.items() if k != "code"}
    if spec["kind"] in ("cifar10", "imagenette"):
        splits, classes = prepare.PREPARE[spec["kind"]](spec, snakemake.params.root)
    elif spec["kind"] == "mnist":
        splits, classes = prepare.prepare_mnist(spec, inputs)
    else:
        splits, classes = prepare.prepare_mnist_varres(spec, inputs["source"])
    saved = datasets.save(snakemake.output.data, splits, classes, meta=spec)
    for name, s in saved["splits"].items():
        log(f"{name}: {tuple(s['x'].shape)} sha256 {saved['sha256'][name]}")
