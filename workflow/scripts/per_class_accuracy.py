from cnnstudy.judging import aggregate
from cnnstudy.logs import script_log
from cnnstudy.report import plots

with script_log(snakemake.log[0]) as log:
    study = snakemake.wildcards.study
    title = snakemake.params.title
    confusion = aggregate.read_table(snakemake.input.confusion)
    plots.per_class(confusion[confusion.study == study], snakemake.output[0], title=title)
    log(f"{study}: per-class accuracy plotted")
