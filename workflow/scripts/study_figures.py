import pandas as pd

from cnnstudy.judging import tables
from cnnstudy.logs import script_log
from cnnstudy.report import plots

with script_log(snakemake.log[0]) as log:
    study = snakemake.wildcards.study
    title = snakemake.params.title
    out = snakemake.output
    curves = pd.read_csv(snakemake.input.curves)
    curves = curves[curves.study == study]
    plots.learning_curves(curves, out.epoch, scope="epoch", title=title)
    plots.learning_curves(curves, out.steps, scope="step", title=title)
    confusion = tables.read_table(snakemake.input.confusion)
    plots.per_class(confusion[confusion.study == study], out.per_class, title=title)
    runs = pd.read_csv(snakemake.input.runs)
    plots.ablation(runs[runs.study == study], out.ablation, title=title)
    grads = pd.read_csv(snakemake.input.grad_norms)
    plots.gradient_norms(grads[grads.study == study] if len(grads) else grads, out.grad_norms, title=title)
    reported = pd.read_csv(snakemake.input.reported)
    plots.versus_reported(reported[reported.study == study], out.reported, title=title)
    log(f"{study}: {len(curves)} curve points; per-class, ablation, gradient-norm and ours-vs-reported figures")
