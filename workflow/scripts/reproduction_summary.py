from pathlib import Path

from cnnstudy.judging.tables import read_table, study_metric
from cnnstudy.logs import script_log
from cnnstudy.performance.compute import ALL
from cnnstudy.records import ClaimRow, read_frame
from cnnstudy.report import pages, setup

with script_log(snakemake.log[0]) as log:
    config = snakemake.config
    runs, compute = read_table(snakemake.input.runs), read_table(snakemake.input.compute)
    claims = read_frame(ClaimRow, snakemake.input.claims)
    counts = {d: read_table(f) for d, f in zip(snakemake.params.datasets, snakemake.input.counts)}
    metrics = {study: study_metric(rows).label for study, rows in runs.groupby("study")}
    table, sources = setup.setup_table(config, counts, metrics), setup.sources_table(config)
    table.to_csv(snakemake.output.setup, index=False)
    sources.to_csv(snakemake.output.sources, index=False)
    sections = [
        ("What each report ran, and what we ran", setup.SETUP_NOTE, setup.deviations_of(table)),
        (
            "Not run, and why",
            "Runs this config leaves out, and claims no run could judge.",
            setup.not_run_table(config, claims),
        ),  # fmt: skip
        ("Compute used", setup.COMPUTE_NOTE, compute[compute.model == ALL]),
        (
            "Parameters of every model",
            "All and trainable parameters, per study and run.",
            setup.parameters_table(runs),
        ),  # fmt: skip
        ("Sources", setup.SOURCES_NOTE, sources),
    ]
    note = (setup.DEMO_NOTE if config["demo_sources"] else "") + setup.PAGE_NOTE
    Path(snakemake.output.html).write_text(pages.html_sections("Reproduction summary", note, sections))
    log(f"{int(table.deviation.sum())} deviations over {len(table)} aspects; {len(sources)} sources")
