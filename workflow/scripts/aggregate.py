from pathlib import Path

from cnnstudy.judging import tables
from cnnstudy.logs import script_log
from cnnstudy.report import pages

with script_log(snakemake.log[0]) as log:
    expected = {tuple(name.split("/")) for name in snakemake.params.expected_at_chance}
    runs = tables.runs_table(snakemake.input.summaries, expected, snakemake.params.collapse_margin)
    runs.to_csv(snakemake.output.runs, index=False)
    Path(snakemake.output.runs_html).write_text(pages.html_table(runs, "Every run", "One row per run."))
    tables.concat_csv(snakemake.input.metrics).to_csv(snakemake.output.curves, index=False)
    tables.concat_csv(snakemake.input.confusion).to_csv(snakemake.output.confusion, index=False)
    tables.concat_csv(snakemake.input.grad_norms).to_csv(snakemake.output.grad_norms, index=False)
    log(f"{len(runs)} runs aggregated; statuses: {runs.status.value_counts().to_dict()}")
