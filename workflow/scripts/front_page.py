from pathlib import Path

from cnnstudy import aggregate, front_page
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    tables = {k: aggregate.read_table(snakemake.input[k]) for k in ("runs", "answers", "reported")}
    intro = Path(snakemake.input.intro).read_text().split("\n", 3)[3]  # without its title
    page = front_page.render(snakemake.params.studies, tables["answers"], tables["reported"], tables["runs"],
                             snakemake.params.demo, intro)  # fmt: skip
    Path(snakemake.output[0]).write_text(page)
    log(f"front page written: {len(page)} characters")
