import pandas as pd

from cnnstudy import aggregate
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    table = aggregate.answers(
        pd.read_csv(snakemake.input.runs), pd.read_csv(snakemake.input.confusion), snakemake.params.studies
    )
    table.to_csv(snakemake.output.answers, index=False)
    log("\n" + table.to_string(index=False))
    versus = aggregate.versus_reported(pd.read_csv(snakemake.input.runs), snakemake.params.studies)
    versus.to_csv(snakemake.output.reported, index=False)
    log("\n" + versus.to_string(index=False))
