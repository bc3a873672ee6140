from cnnstudy.judging import tables
from cnnstudy.logs import script_log
from cnnstudy.report import plots

with script_log(snakemake.log[0]) as log:
    study = snakemake.wildcards.study
    title = snakemake.params.title
    confusion = tables.read_table(snakemake.input.confusion)
    plots.per_class(confusion[confusion.study == study], snakemake.output[0], title=title)
    log(f"{study}: per-class accuracy plotted")
