import torch

from cnnstudy.logs import script_log
from cnnstudy.nets.conv_check import time_layers

with script_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    table = time_layers(snakemake.params.shapes, repeats=snakemake.params.repeats)
    table.to_csv(snakemake.output[0], index=False)
    log("\n" + table.to_string(index=False))
