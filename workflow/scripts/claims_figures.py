from cnnstudy.logs import script_log
from cnnstudy.records import ClaimRow, ClaimTestRow, NumberRow, read_frame
from cnnstudy.report import plots

with script_log(snakemake.log[0]) as log:
    records = {"claims": ClaimRow, "tests": ClaimTestRow, "reported": NumberRow}
    tables = {k: read_frame(record, snakemake.input[k]) for k, record in records.items()}
    for (report, spec), path in zip(snakemake.config["reports"].items(), snakemake.output):
        of_report = {k: t[t.report == report] if "report" in t else t for k, t in tables.items()}
        plots.claims_figure(of_report, path, title=f"{report}: {spec['title']}")
        log(f"{report}: {len(of_report['claims'])} claims drawn in {path}")
