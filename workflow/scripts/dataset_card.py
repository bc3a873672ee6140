from cnnstudy.data import datasets
from cnnstudy.logs import script_log
from cnnstudy.report import plots

with script_log(snakemake.log[0]) as log:
    data = datasets.load(snakemake.input[0])
    counts = datasets.class_counts(data)
    counts.to_csv(snakemake.output.counts, index=False)
    plots.sample_grid(data, snakemake.output.samples, per_class=5, seed=0)
    plots.class_counts(counts, snakemake.output.card, title=snakemake.wildcards.dataset)
    log(f"{snakemake.wildcards.dataset}: {len(counts)} count rows")
