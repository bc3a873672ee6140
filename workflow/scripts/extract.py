from cnnstudy.data.download import extract, verify_download
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    archive = verify_download(snakemake.input[0], snakemake.params.entry, log)
    extract(archive, snakemake.output[0], limit_gb=snakemake.params.limit_gb)
    log(f"extracted {archive} into {snakemake.output[0]}")
