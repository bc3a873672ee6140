# Stage 6: figures of every study for the report (matplotlib, seaborn).


rule study_figures:
    """Every figure of a study drawn from the aggregated tables, in one process: learning
    curves, per-class accuracy, the ablation chart (every switch's effect with the seeds'
    spread), per-layer gradient norms and ours vs reported."""
    input:
        curves=f"{RESULTS}/tables/curves.csv",
        confusion=f"{RESULTS}/tables/confusion.csv",
        runs=f"{RESULTS}/tables/runs.csv",
        grad_norms=f"{RESULTS}/tables/grad_norms.csv",
        reported=f"{RESULTS}/tables/vs_reported.csv",
        code=code_of("study_figures.py"),
    output:
        epoch=report(
            f"{RESULTS}/figures/{{study}}/curves_epoch.png",
            caption="../report/curves_epoch.rst",
            category=study_category,
            subcategory="Learning curves",
            labels={"study": "{study}", "figure": "per epoch"},
        ),
        steps=report(
            f"{RESULTS}/figures/{{study}}/curves_steps.png",
            caption="../report/curves_steps.rst",
            category=study_category,
            subcategory="Learning curves",
            labels={"study": "{study}", "figure": "per N steps"},
        ),
        per_class=report(
            f"{RESULTS}/figures/{{study}}/per_class_accuracy.png",
            caption="../report/per_class.rst",
            category=study_category,
            subcategory="Per-class accuracy",
            labels={"study": "{study}", "figure": "per-class accuracy"},
        ),
        ablation=report(
            f"{RESULTS}/figures/{{study}}/ablation.png",
            caption="../report/ablation.rst",
            category=study_category,
            subcategory="Ablation",
            labels={"study": "{study}", "figure": "ablation"},
        ),
        grad_norms=report(
            f"{RESULTS}/figures/{{study}}/gradient_norms.png",
            caption="../report/gradient_norms.rst",
            category=study_category,
            subcategory="Gradient norms",
            labels={"study": "{study}", "figure": "gradient norms"},
        ),
        reported=report(
            f"{RESULTS}/figures/{{study}}/vs_reported.png",
            caption="../report/vs_reported.rst",
            category=study_category,
            subcategory="Ours vs reported",
            labels={"study": "{study}", "figure": "ours vs reported"},
        ),
    log:
        f"{RESULTS}/logs/figures/{{study}}_study.log",
    conda:
        "../../envs/report.yaml"
    params:
        title=study_title,
    script:
        "../scripts/study_figures.py"


rule interpret:
    """Per run of a study (its first seed): feature maps, first-layer filters, CAM / Grad-CAM
    and guided backpropagation; one job per study (one process, not one per run)."""
    input:
        models=interpreted_models,
        data=dataset_of_study,
        code=code_of("interpret.py"),
    output:
        attribution=report(
            directory(f"{RESULTS}/figures/{{study}}/interpret/attribution"),
            patterns=["{model}_seed{seed}.png"],
            caption="../report/attribution.rst",
            category=study_category,
            subcategory="What the nets look at",
            labels={
                "model": "{model}",
                "seed": "{seed}",
                "figure": "CAM and saliency",
            },
        ),
        feature_maps=report(
            directory(f"{RESULTS}/figures/{{study}}/interpret/feature_maps"),
            patterns=["{model}_seed{seed}.png"],
            caption="../report/feature_maps.rst",
            category=study_category,
            subcategory="What the nets look at",
            labels={"model": "{model}", "seed": "{seed}", "figure": "feature maps"},
        ),
        filters=report(
            directory(f"{RESULTS}/figures/{{study}}/interpret/filters"),
            patterns=["{model}_seed{seed}.png"],
            caption="../report/filters.rst",
            category=study_category,
            subcategory="What the nets look at",
            labels={
                "model": "{model}",
                "seed": "{seed}",
                "figure": "first-layer filters",
            },
        ),
    log:
        f"{RESULTS}/logs/figures/{{study}}_interpret.log",
    conda:
        "../../envs/torch.yaml"
    params:
        runs=interpreted_run_params,
        title=study_title,
    script:
        "../scripts/interpret.py"


rule confusion_figures:
    """Every run and seed of a study: the best epoch's confusion matrices (train, val, test)."""
    input:
        # the study's own runs: an edit elsewhere redraws nothing here
        confusion=lambda wc: run_outputs("confusion.csv", wc.study),
        code=code_of("confusion_figures.py"),
    output:
        report(
            directory(f"{RESULTS}/figures/{{study}}/confusion"),
            patterns=["{model}_seed{seed}.png"],
            caption="../report/confusion.rst",
            category=study_category,
            subcategory="Confusion matrices",
            labels={"model": "{model}", "seed": "{seed}"},
        ),
    log:
        f"{RESULTS}/logs/figures/{{study}}_confusion.log",
    conda:
        "../../envs/report.yaml"
    params:
        title=study_title,
    script:
        "../scripts/confusion_figures.py"
