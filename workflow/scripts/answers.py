from pathlib import Path

from cnnstudy import config as study_config
from cnnstudy.judging import questions, tables
from cnnstudy.logs import script_log
from cnnstudy.report import pages

with script_log(snakemake.log[0]) as log:
    runs = tables.read_table(snakemake.input.runs)
    confusion = tables.read_table(snakemake.input.confusion)
    table = questions.answers(runs, confusion, study_config.comparisons_of(snakemake.config))
    table.to_csv(snakemake.output.answers, index=False)
    note = "Paired differences over seeds with 95% t intervals; inconclusive where the interval covers 0 or n < 2."
    Path(snakemake.output.answers_html).write_text(pages.html_table(table, "The config's questions", note))
    log("\n" + table.to_string(index=False))
