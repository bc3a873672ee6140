from pathlib import Path

from cnnstudy.comparing import bundle
from cnnstudy.logs import script_log
from cnnstudy.records import RunSummary, read_record, write_record

with script_log(snakemake.log[0]) as log:
    summaries = [read_record(RunSummary, f) for f in snakemake.input.summaries]
    commit = bundle.git_commit(Path(snakemake.scriptdir).parents[1])
    provenance = bundle.provenance_of(summaries, snakemake.config, commit, snakemake.input.tables_code)
    tables = {name: snakemake.input[name] for name in bundle.TABLES}
    bundle.write_bundle(snakemake.output.bundle, tables, summaries, snakemake.config, provenance)
    write_record(provenance, snakemake.output.provenance)
    log(f"{snakemake.output.bundle}: {len(summaries)} runs, commit {provenance.commit}")
