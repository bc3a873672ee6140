# Performance: the whole grid's time projected from step rates measured on this device.


rule grid_projection:
    """Steps per second of every run's model, input and batch, times its steps and seeds."""
    input:
        counts=[f"{RESULTS}/tables/datasets/{d}_counts.csv" for d in DATASETS],
        data=[dataset_file(d) for d in DATASETS],
        code=code_of("grid_projection.py"),
    output:
        table=f"{RESULTS}/performance/projection.csv",
        html=report(
            f"{RESULTS}/performance/projection.html",
            caption="../report/grid_projection.rst",
            category="Performance",
            labels={"table": "grid projection"},
        ),
        figure=report(
            f"{RESULTS}/figures/performance/projection.png",
            caption="../report/grid_projection.rst",
            category="Performance",
            labels={"figure": "grid projection"},
        ),
    log:
        f"{RESULTS}/logs/performance/projection.log",
    conda:
        TRAIN_ENV
    threads: train_resources("cpus")
    resources:
        gpu=train_resources("gpus"),
        mem_mb=train_resources("mem_mb"),
        runtime=train_resources("runtime"),
    params:
        budget=config["performance"]["measure_seconds"],
        datasets=DATASETS,
        # the runs' settings their time depends on: an edit of those reruns the projection
        runs=lambda wc: projection_settings(),
    script:
        "../scripts/grid_projection.py"


rule compute:
    """The compute every training job used (device, wall and CPU time, peak memory, attempts),
    per study and in all, from Snakemake's benchmark files and the run summaries."""
    input:
        summaries=run_outputs("summary.json"),
        benchmarks=[
            f"{RESULTS}/benchmarks/train/{s}/{m}/seed{k}.tsv" for s, m, k in RUNS
        ],
        code=code_of("compute.py"),
    output:
        table=f"{RESULTS}/tables/compute.csv",
        html=report(
            f"{RESULTS}/tables/compute.html",
            caption="../report/compute.rst",
            category="Performance",
            labels={"table": "compute used"},
        ),
    log:
        f"{RESULTS}/logs/compute.log",
    conda:
        "../../envs/report.yaml"
    params:
        logs=[str(paths.train_log(s, m, k)) for s, m, k in RUNS],
    script:
        "../scripts/compute.py"
