from pathlib import Path

from cnnstudy.comparing import bundle, compare
from cnnstudy.logs import script_log
from cnnstudy.report import pages

with script_log(snakemake.log[0]) as log:
    reference = bundle.read_bundle(snakemake.config["reference"])
    ours = bundle.read_bundle(snakemake.input.ours)
    result = compare.compare(reference, ours)
    tables = result.tables()
    for name, table in tables.items():
        table.to_csv(snakemake.output[name], index=False)
    title = f"Every run's metric against the reference ({compare.NUMBER_TEST})"
    Path(snakemake.output.html).write_text(pages.html_table(tables["numbers"], title, reference.source))
    log(compare.text(result, len(ours.tables["claims"])))
