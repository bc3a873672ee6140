from cnnstudy import aggregate
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    runs = aggregate.read_table(snakemake.input.runs)
    confusion = aggregate.read_table(snakemake.input.confusion)
    table = aggregate.answers(runs, confusion, snakemake.params.studies)
    table.to_csv(snakemake.output.answers, index=False)
    log("\n" + table.to_string(index=False))
    versus = aggregate.versus_reported(runs, snakemake.params.studies)
    versus.to_csv(snakemake.output.reported, index=False)
    log("\n" + versus.to_string(index=False))
