from pathlib import Path

from cnnstudy.judging import tables
from cnnstudy.logs import script_log
from cnnstudy.report import plots

with script_log(snakemake.log[0]) as log:
    study = snakemake.wildcards.study
    out = Path(snakemake.output[0])
    out.mkdir(parents=True, exist_ok=True)
    confusion = tables.concat_csv(snakemake.input.confusion)
    title = snakemake.params.title
    for (model, seed), matrices in confusion.groupby(["model", "seed"]):
        plots.confusion_pair(matrices, out / f"{model}_seed{seed}.png", title=f"{title}\n{model}, seed {seed}")
    log(f"{study}: confusion matrices of {confusion.groupby(['model', 'seed']).ngroups} runs plotted in {out}")
