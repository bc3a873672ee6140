from cnnstudy.conv_check import run_cases
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    table = run_cases()
    log("\n" + table.to_string(index=False))
    failed = table[~table.passed]
    if len(failed):
        names = ", ".join(f"{c} ({i})" for c, i in zip(failed.case, failed.implementation))
        raise SystemExit(f"convolution gate failed, training will not start: {names}")
    table.to_csv(snakemake.output[0], index=False)
    log(f"all {len(table)} case x implementation checks passed")
