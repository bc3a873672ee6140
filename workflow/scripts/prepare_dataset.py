from cnnstudy.data import datasets, prepare
from cnnstudy.data.download import verify_download
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    spec = snakemake.params.spec
    inputs = {k: v for k, v in snakemake.input.items() if k != "code"}
    for key, entry in snakemake.params.checksums.items():  # downloaded files read directly (mnist idx)
        verify_download(inputs[key], entry, log)
    # an archive's folder (cifar10, imagenette), the idx files (mnist) or a prepared dataset (mnist_varres)
    source = snakemake.params.root or inputs.get("source") or inputs
    splits, classes = prepare.PREPARE[spec["kind"]](spec, source)
    saved = datasets.save(snakemake.output.data, splits, classes, meta=spec)
    for name, s in saved["splits"].items():
        log(f"{name}: {tuple(s['x'].shape)} sha256 {saved['sha256'][name]}")
