from cnnstudy.data.download import Limits, fetch
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    p = snakemake.params
    limits = Limits(retries=p.retries, deadline=60 * p.deadline_minutes, min_rate=1000 * p.min_kb_per_second)
    fetch(p.entry["url"], snakemake.output[0], p.entry, limits=limits, cache_dir=p.cache, log=log)
