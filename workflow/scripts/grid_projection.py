from pathlib import Path

import torch

from cnnstudy.logs import script_log
from cnnstudy.performance import projection
from cnnstudy.report import pages, plots

with script_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    # the datasets this config prepared, not the official sizes: the demo's twins are small
    datasets = snakemake.params.datasets
    prepared = projection.Prepared(
        sizes=projection.prepared_sizes(dict(zip(datasets, snakemake.input.counts))),
        data_mb={d: projection.file_mb(f) for d, f in zip(datasets, snakemake.input.data)},
    )
    table = projection.project(snakemake.config, budget=snakemake.params.budget, log=log, prepared=prepared)
    table.to_csv(snakemake.output.table, index=False)
    plots.grid_projection(table, snakemake.output.figure, title="the config's whole grid, projected")
    note = (
        f"Measured on {table.device.iloc[0]}; seconds are all seeds of a run; memory_mb: what one job of the "
        "run holds (this process, the dataset's file, the training step's tensors)."
    )
    Path(snakemake.output.html).write_text(pages.html_table(table, "The whole grid, projected", note))
    log("\n" + projection.per_study(table).to_string(index=False))
