from pathlib import Path

from cnnstudy.logs import script_log
from cnnstudy.notebooks import execute_to_html

with script_log(snakemake.log[0]) as log:
    if snakemake.rule == "conv_notebook":
        parameters = {"shape": list(snakemake.params.shape)}
    else:  # study_notebook: the notebook runs in results/notebooks/
        parameters = {"study": snakemake.wildcards.study, "tables": str(Path(snakemake.input.runs).parent.resolve())}
    execute_to_html(snakemake.input.notebook, snakemake.output.notebook, snakemake.output.html, parameters=parameters)
    log(f"executed {snakemake.input.notebook} -> {snakemake.output.html}")
