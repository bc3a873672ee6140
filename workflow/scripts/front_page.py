from pathlib import Path

from cnnstudy import aggregate, front_page
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    tables = {k: aggregate.read_table(snakemake.input[k]) for k in ("runs", "answers", "claims", "reported")}
    intro = Path(snakemake.input.intro).read_text().split("\n", 3)[3]  # without its title
    p = snakemake.params
    page = front_page.render(p.studies, p.reports, tables, p.demo, intro)
    Path(snakemake.output[0]).write_text(page)
    log(f"front page written: {len(page)} characters")
