from cnnstudy.logs import script_log
from cnnstudy.report.notebooks import execute_to_html

with script_log(snakemake.log[0]) as log:
    parameters = {"shape": list(snakemake.params.shape)}
    execute_to_html(snakemake.input.notebook, snakemake.output.notebook, snakemake.output.html, parameters=parameters)
    log(f"executed {snakemake.input.notebook} -> {snakemake.output.html}")
