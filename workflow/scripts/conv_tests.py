from cnnstudy.logs import script_log
from cnnstudy.nets.conv_check import gate, run_cases

with script_log(snakemake.log[0]) as log:
    table = run_cases()
    log("\n" + table.to_string(index=False))
    gate(table)  # raises naming the failing cases; the table stays in the log
    table.to_csv(snakemake.output[0], index=False)
    log(f"all {len(table)} case x implementation checks passed")
