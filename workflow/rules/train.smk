# Stage 4: one job per (study, model, seed); resumes from its last checkpoint when rerun.


rule train:
    """Train one run; a diverged run is a result (status 'diverged'), not a failure."""
    input:
        data=dataset_of_study,
        gate=f"{RESULTS}/conv/cases.csv",
        weights=pretrained_weights,
        code=code_of("train"),
    output:
        metrics=f"{RESULTS}/runs/{{study}}/{{model}}/seed{{seed}}/metrics.csv",
        confusion=f"{RESULTS}/runs/{{study}}/{{model}}/seed{{seed}}/confusion.csv",
        model=f"{RESULTS}/runs/{{study}}/{{model}}/seed{{seed}}/best_model.pt",
        summary=f"{RESULTS}/runs/{{study}}/{{model}}/seed{{seed}}/summary.json",
        grad_norms=f"{RESULTS}/runs/{{study}}/{{model}}/seed{{seed}}/grad_norms.csv",
    log:
        f"{RESULTS}/logs/train/{{study}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{study}}/{{model}}/seed{{seed}}.tsv"
    conda:
        TRAIN_ENV
    threads: train_resources("cpus")
    resources:
        gpu=train_resources("gpus"),
        # a retry (out of memory, time limit) asks for more of both
        mem_mb=lambda wc, attempt: train_resources("mem_mb") * attempt,
        runtime=lambda wc, attempt: train_resources("runtime") * attempt,
    params:
        run=run_params,
        weights_checksums=pretrained_checksums,
        # not outputs: Snakemake would delete them when a killed job is rerun
        checkpoint=f"{RESULTS}/checkpoints/{{study}}/{{model}}/seed{{seed}}/last.pt",
        board=f"{RESULTS}/tensorboard/{{study}}/{{model}}/seed{{seed}}",
    script:
        "../scripts/train.py"
