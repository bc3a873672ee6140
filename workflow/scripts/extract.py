from cnnstudy.download import extract
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    extract(snakemake.input[0], snakemake.output[0])
    log(f"extracted {snakemake.input[0]} into {snakemake.output[0]}")
