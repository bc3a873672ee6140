from pathlib import Path

from cnnstudy import aggregate, pages
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    runs = aggregate.read_table(snakemake.input.runs)
    confusion = aggregate.read_table(snakemake.input.confusion)
    table = aggregate.answers(runs, confusion, snakemake.params.studies)
    table.to_csv(snakemake.output.answers, index=False)
    log("\n" + table.to_string(index=False))
    versus = aggregate.versus_reported(runs, snakemake.params.studies)
    versus.to_csv(snakemake.output.reported, index=False)
    note = "Paired differences over seeds with 95% t intervals; inconclusive where the interval covers 0 or n < 2."
    Path(snakemake.output.answers_html).write_text(pages.html_table(table, "The reports' questions", note))
    Path(snakemake.output.reported_html).write_text(pages.html_table(versus, "Ours beside the reports' numbers"))
    log("\n" + versus.to_string(index=False))
