# Stage 4: one job per (study, model, seed); resumes from its last checkpoint when rerun.


rule train:
    """Train one run; a diverged run is a result (status 'diverged'), not a failure."""
    input:
        data=dataset_of_study,
        gate=f"{RESULTS}/conv/cases.csv",
        weights=pretrained_weights,
        code=code_of("train.py"),
    output:
        metrics=f"{RUN_PATTERN}/metrics.csv",
        confusion=f"{RUN_PATTERN}/confusion.csv",
        model=f"{RUN_PATTERN}/best_model.pt",
        summary=f"{RUN_PATTERN}/summary.json",
        grad_norms=f"{RUN_PATTERN}/grad_norms.csv",
    log:
        str(paths.train_log("{study}", "{model}", "{seed}")),
    benchmark:
        f"{RESULTS}/benchmarks/train/{{study}}/{{model}}/seed{{seed}}.tsv"
    conda:
        TRAIN_ENV
    threads: train_resources("cpus")
    resources:
        # a whole GPU (--gpus), or, for the runs of resources.train.share, shards of one
        # (--gres=shard:N; locally the gpu_shard resource): see README "Small runs sharing a GPU"
        gpu=lambda wc: 0 if shares_gpu(wc) else train_resources("gpus"),
        gres=lambda wc: f"shard:{train_resources('shards')}" if shares_gpu(wc) else "",
        gpu_shard=lambda wc: train_resources("shards") if shares_gpu(wc) else 0,
        # the run's measured memory and time where the grid projection ran before (read when
        # the job is scheduled; not an input: an input would rerun every training job on
        # re-measuring); a retry (out of memory, time limit) asks for twice both
        mem_mb=lambda wc, attempt: attempt
        * MEMORY.request(PROJECTION, wc.study, wc.model),
        runtime=lambda wc, attempt: attempt
        * RUNTIME.request(PROJECTION, wc.study, wc.model),
    params:
        run=run_params,
        weights_checksums=pretrained_checksums,
        # not outputs: Snakemake would delete them when a killed job is rerun
        checkpoint=str(paths.checkpoint("{study}", "{model}", "{seed}")),
        board=str(paths.tensorboard("{study}", "{model}", "{seed}")),
    script:
        "../scripts/train.py"
