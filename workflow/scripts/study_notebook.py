import os
from pathlib import Path

from cnnstudy.logs import script_log
from cnnstudy.report.notebooks import execute_to_html

with script_log(snakemake.log[0]) as log:
    # the notebook runs in results/notebooks/: a relative path keeps this machine's out of the page
    tables = os.path.relpath(Path(snakemake.input.runs).parent, Path(snakemake.output.notebook).parent)
    parameters = {"study": snakemake.wildcards.study, "tables": tables}
    execute_to_html(snakemake.input.notebook, snakemake.output.notebook, snakemake.output.html, parameters=parameters)
    log(f"executed {snakemake.input.notebook} -> {snakemake.output.html}")
