import pandas as pd

from cnnstudy import plots
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    plots.conv_errors(pd.read_csv(snakemake.input.cases), snakemake.output.errors)
    plots.conv_timing(pd.read_csv(snakemake.input.timing), snakemake.output.timing)
    log("conv figures written")
