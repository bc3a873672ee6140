from cnnstudy.download import fetch
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    p = snakemake.params
    fetch(p.entry["url"], snakemake.output[0], p.entry, retries=p.retries, cache_dir=p.cache, log=log)
