from pathlib import Path

from cnnstudy.logs import script_log
from cnnstudy.performance import compute
from cnnstudy.records import RunSummary, read_record
from cnnstudy.report import pages

with script_log(snakemake.log[0]) as log:
    rows = []
    for summary, benchmark, train_log in zip(
        snakemake.input.summaries, snakemake.input.benchmarks, snakemake.params.logs
    ):
        attempts = compute.attempts_of(Path(train_log).read_text(errors="replace")) if Path(train_log).exists() else 1
        rows.append(compute.job_row(read_record(RunSummary, summary), compute.benchmark_of(benchmark), attempts))
    table = compute.compute_table(rows)
    table.to_csv(snakemake.output.table, index=False)
    note = (
        "Per training job: wall and CPU time and peak memory as Snakemake's benchmark files hold them, attempts "
        "from its log; per study and in all (model '(all)'): the sums, diverged and retried runs included."
    )
    Path(snakemake.output.html).write_text(pages.html_table(table, "Compute used", note))
    total = table[table.study == compute.ALL]
    log(f"{len(rows)} training jobs: {float(total.device_hours.sum()):.3f} device-hours")
