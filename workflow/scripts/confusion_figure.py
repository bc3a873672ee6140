from cnnstudy import aggregate, plots
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    title = f"{snakemake.config['studies'][w.study]['title']}\n{w.model}, seed {w.seed}"
    plots.confusion_pair(aggregate.read_table(snakemake.input[0]), snakemake.output[0], title=title)
    log("confusion matrices plotted")
