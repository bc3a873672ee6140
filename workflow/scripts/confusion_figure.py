from cnnstudy import aggregate, plots
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    plots.confusion_pair(
        aggregate.read_table(snakemake.input[0]), snakemake.output[0], title=f"{w.study}: {w.model}, seed {w.seed}"
    )
    log("confusion matrices plotted")
