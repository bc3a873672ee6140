import pandas as pd

from cnnstudy import aggregate
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    table = aggregate.answers(
        pd.read_csv(snakemake.input.runs), pd.read_csv(snakemake.input.confusion), snakemake.params.studies
    )
    table.to_csv(snakemake.output[0], index=False)
    log("\n" + table.to_string(index=False))
