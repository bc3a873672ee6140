"""The compute disclosure: per job from Snakemake's benchmark files and the run summaries, per
study and in all, retries and diverged runs included."""

import pytest
from conftest import run_summary

from cnnstudy.performance import compute

BENCHMARK = (  # Snakemake's benchmark file: a header and one line per measured run of the job
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    "{s}\t0:00:12\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n"
)


def test_jobs_then_each_study_then_everything_with_retries_and_diverged_runs(tmp_path):
    jobs = [
        ("a", "m", 0, "completed", 3600.0, 500.0, 2),
        ("a", "m", 1, "diverged", 1800.0, 700.0, 1),
        ("b", "all", 0, "completed", 7200.0, 300.0, 1),
    ]  # fmt: skip  (a real run may be named "all")
    rows = []
    for study, model, seed, status, seconds, rss, attempts in jobs:
        path = tmp_path / f"{study}{seed}.tsv"
        path.write_text(BENCHMARK.format(s=seconds, rss=rss, cpu=seconds / 2))
        summary = run_summary(study=study, model=model, seed=seed, status=status)
        rows.append(compute.job_row(summary, compute.benchmark_of(path), attempts))
    table = compute.compute_table(rows).set_index(["study", "model", "seed"])
    assert table.loc[("a", "(all)", ""), "device_hours"] == pytest.approx(1.5)
    assert table.loc[("a", "(all)", ""), "attempts"] == 3 and table.loc[("a", "(all)", ""), "peak_rss_mb"] == 700
    assert table.loc[("(all)", "(all)", ""), "device_hours"] == pytest.approx(3.5)
    assert table.loc[("(all)", "(all)", ""), "cpu_seconds"] == pytest.approx((3600 + 1800 + 7200) / 2)
    assert table.loc[("a", "m", "1"), "status"] == "diverged"
    assert table.loc[("b", "all", "0"), "status"] == "completed" and table.loc[("b", "(all)", ""), "attempts"] == 1


def test_attempts_are_the_logs_starts_and_a_file_that_is_no_benchmark_is_named(tmp_path):
    log = (
        "[12:00:00] device cpu (x86_64, ...)\n[12:00:05] STOPPED: exit code 143\n[12:10:00] device cpu (x86_64, ...)\n"
    )
    assert compute.attempts_of(log) == 2 and compute.attempts_of("") == 1
    (tmp_path / "x.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match=r"x.tsv: not a Snakemake benchmark file \(columns missing"):
        compute.benchmark_of(tmp_path / "x.tsv")


def test_a_training_jobs_time_request_follows_its_measurement_within_floor_and_cap(tmp_path):
    projection = tmp_path / "projection.csv"
    projection.write_text("study,run,seconds_per_seed\ns,fast,30\ns,slow,1200\ns,huge,900000\n")
    rule = compute.runtime_request(cap=240, margin=3, floor=10)
    assert rule.request(projection, "s", "fast") == 10  # 1.5 min measured x 3: the floor
    assert rule.request(projection, "s", "slow") == 60  # 20 min x 3
    assert rule.request(projection, "s", "huge") == 240  # the cap
    assert rule.request(projection, "s", "unmeasured") == 240 and rule.request(tmp_path / "none.csv", "s", "x") == 240
