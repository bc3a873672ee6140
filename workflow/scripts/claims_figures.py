from cnnstudy import aggregate, plots
from cnnstudy.logs import script_log

with script_log(snakemake.log[0]) as log:
    tables = {k: aggregate.read_table(snakemake.input[k]) for k in ("claims", "tests", "reported")}
    for (report, spec), path in zip(snakemake.config["reports"].items(), snakemake.output):
        of_report = {k: t[t.report == report] if "report" in t else t for k, t in tables.items()}
        plots.claims_figure(of_report, path, title=f"{report}: {spec['title']}")
        log(f"{report}: {len(of_report['claims'])} claims drawn in {path}")
