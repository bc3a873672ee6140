import pandas as pd

from cnnstudy.logs import script_log
from cnnstudy.report import plots

with script_log(snakemake.log[0]) as log:
    study = snakemake.wildcards.study
    title = snakemake.params.title
    runs = pd.read_csv(snakemake.input.runs)
    grads = pd.read_csv(snakemake.input.grad_norms)
    plots.ablation(runs[runs.study == study], snakemake.output.ablation, title=title)
    plots.gradient_norms(grads[grads.study == study] if len(grads) else grads, snakemake.output.grad_norms, title=title)
    reported = pd.read_csv(snakemake.input.reported)
    plots.versus_reported(reported[reported.study == study], snakemake.output.reported, title=title)
    log(f"{study}: ablation, gradient-norm and ours-vs-reported figures written")
