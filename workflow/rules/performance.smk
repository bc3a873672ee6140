# Performance: the whole grid's time projected from step rates measured on this device.


rule grid_projection:
    """Steps per second of every run's model, input and batch, times its steps and seeds."""
    input:
        counts=[f"{RESULTS}/tables/datasets/{d}_counts.csv" for d in DATASETS],
        code=code_of("performance"),
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
