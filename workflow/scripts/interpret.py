import torch

from cnnstudy import interpret, plots
from cnnstudy.logs import script_log
from cnnstudy.runconfig import RunConfig

with script_log(snakemake.log[0]) as log:
    torch.manual_seed(0)
    w = snakemake.wildcards
    title = f"{snakemake.config['studies'][w.study]['title']}: {w.model}, seed {w.seed}"
    a = interpret.analyse(RunConfig(**snakemake.params.run), snakemake.input.data, snakemake.input.model)
    plots.attribution(a, snakemake.output.attribution, title)
    plots.feature_maps(a, snakemake.output.feature_maps, title)
    plots.filters(a["filters"], snakemake.output.filters, title)
    for key, e in a["examples"].items():
        log(f"{key}: image {e['index']} true {e['label']} predicted {e['pred']} ({e['cam_method']})")
