from pathlib import Path

import torch

from cnnstudy.data import datasets
from cnnstudy.logs import script_log
from cnnstudy.report import interpret, plots
from cnnstudy.runconfig import RunConfig

with script_log(snakemake.log[0]) as log:
    study = snakemake.wildcards.study
    out = {kind: Path(snakemake.output[kind]) for kind in ("attribution", "feature_maps", "filters")}
    for folder in out.values():
        folder.mkdir(parents=True, exist_ok=True)
    data = datasets.load(snakemake.input.data)  # once: verifying it hashes every split
    for params, model_path in zip(snakemake.params.runs, snakemake.input.models):
        torch.manual_seed(0)
        cfg = RunConfig(**params)
        name = f"{cfg.run}_seed{cfg.seed}.png"
        title = f"{snakemake.params.title}: {cfg.run}, seed {cfg.seed}"
        a = interpret.analyse(cfg, data, model_path)
        plots.attribution(a, out["attribution"] / name, title)
        plots.feature_maps(a, out["feature_maps"] / name, title)
        plots.filters(a["filters"], out["filters"] / name, title)
        for key, e in a["examples"].items():
            log(f"{cfg.run}: {key}: image {e['index']} true {e['label']} predicted {e['pred']} ({e['cam_method']})")
