import pandas as pd

from cnnstudy.logs import script_log
from cnnstudy.report import plots

with script_log(snakemake.log[0]) as log:
    study = snakemake.wildcards.study
    title = snakemake.params.title
    curves = pd.read_csv(snakemake.input.curves)
    curves = curves[curves.study == study]
    plots.learning_curves(curves, snakemake.output.epoch, scope="epoch", title=title)
    plots.learning_curves(curves, snakemake.output.steps, scope="step", title=title)
    log(f"{study}: {len(curves)} curve points plotted")
