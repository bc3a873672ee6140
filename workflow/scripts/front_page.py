from pathlib import Path

from cnnstudy.config import page_texts
from cnnstudy.judging.tables import read_table
from cnnstudy.logs import script_log
from cnnstudy.records import ClaimRow, NumberChangeRow, NumberRow, ProvenanceRow, VerdictChangeRow, read_frame
from cnnstudy.report import front_page

with script_log(snakemake.log[0]) as log:
    tables = {k: read_table(snakemake.input[k]) for k in ("runs", "answers")}
    tables["claims"] = read_frame(ClaimRow, snakemake.input.claims)
    tables["reported"] = read_frame(NumberRow, snakemake.input.reported)
    compared = {"verdicts": VerdictChangeRow, "numbers": NumberChangeRow, "provenance": ProvenanceRow}
    if "verdicts" in snakemake.input.keys():  # noqa: SIM118 - "in" of a Namedlist looks at its values
        tables["reference"] = {k: read_frame(cls, snakemake.input[k]) for k, cls in compared.items()}
    intro = Path(snakemake.input.intro).read_text().split("\n", 3)[3]  # without its title
    texts = page_texts(snakemake.config)
    page = front_page.render(texts["studies"], texts["reports"], tables, snakemake.params.demo, intro)
    Path(snakemake.output[0]).write_text(page)
    log(f"front page written: {len(page)} characters")
