# Stage 5: tidy tables over all runs (pandas).


rule aggregate:
    """One row per run, all curves in long format, all confusion matrices."""
    input:
        summaries=run_outputs("summary.json"),
        metrics=run_outputs("metrics.csv"),
        confusion=run_outputs("confusion.csv"),
        grad_norms=run_outputs("grad_norms.csv"),
        code=code_of("aggregate.py"),
    output:
        runs=f"{RESULTS}/tables/runs.csv",
        runs_html=report(
            f"{RESULTS}/tables/runs.html",
            caption="../report/runs_table.rst",
            category="Tables",
            labels={"table": "runs (sortable)"},
        ),
        curves=f"{RESULTS}/tables/curves.csv",
        confusion=f"{RESULTS}/tables/confusion.csv",
        grad_norms=f"{RESULTS}/tables/grad_norms.csv",
    log:
        f"{RESULTS}/logs/aggregate.log",
    conda:
        "../../envs/report.yaml"
    params:
        # seeds of runs a chance claim names are not collapsed when they end at chance
        expected_at_chance=sorted(
            f"{s}/{r}" for s, r in study_config.expected_at_chance(config)
        ),
        collapse_margin=config["collapse_margin"],
    script:
        "../scripts/aggregate.py"


rule study_notebook:
    """The study's questions answered in a papermill-executed notebook, rendered for the report."""
    input:
        notebook=workflow.source_path("../notebooks/study_analysis.ipynb"),
        runs=f"{RESULTS}/tables/runs.csv",
        curves=f"{RESULTS}/tables/curves.csv",
        answers=f"{RESULTS}/tables/answers.csv",
        claims=f"{RESULTS}/tables/claims.csv",
        reported=f"{RESULTS}/tables/vs_reported.csv",
        code=code_of("study_notebook.py", "study_analysis.ipynb"),
    output:
        notebook=f"{RESULTS}/notebooks/{{study}}_analysis.ipynb",
        html=report(
            f"{RESULTS}/notebooks/{{study}}_analysis.html",
            caption="../report/study_notebook.rst",
            category=study_category,
            subcategory="Analysis notebook",
            labels={"study": "{study}", "notebook": "analysis"},
        ),
    log:
        f"{RESULTS}/logs/notebooks/{{study}}_analysis.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/study_notebook.py"


rule answers:
    """The config's questions answered from the data, with the spread over seeds."""
    input:
        runs=f"{RESULTS}/tables/runs.csv",
        confusion=f"{RESULTS}/tables/confusion.csv",
        code=code_of("answers.py"),
    output:
        answers=f"{RESULTS}/tables/answers.csv",
        answers_html=report(
            f"{RESULTS}/tables/answers.html",
            caption="../report/answers.rst",
            category="Tables",
            labels={"table": "answers (sortable)"},
        ),
    log:
        f"{RESULTS}/logs/answers.log",
    conda:
        "../../envs/report.yaml"
    params:
        questions_sha256=study_config.texts_digest(study_config.comparisons_of(config)),
    script:
        "../scripts/answers.py"


rule claims:
    """Every claim of the reports judged: reproduced, contradicted, inconclusive or not run."""
    input:
        runs=f"{RESULTS}/tables/runs.csv",
        confusion=f"{RESULTS}/tables/confusion.csv",
        grad_norms=f"{RESULTS}/tables/grad_norms.csv",
        conv_cases=f"{RESULTS}/conv/cases.csv",
        code=code_of("claims.py"),
    output:
        claims=f"{RESULTS}/tables/claims.csv",
        tests=f"{RESULTS}/tables/claim_tests.csv",
        reported=f"{RESULTS}/tables/vs_reported.csv",
        claims_html=report(
            f"{RESULTS}/tables/claims.html",
            caption="../report/claims.rst",
            category="Did it reproduce?",
            labels={"table": "every claim (sortable)"},
        ),
        tests_html=report(
            f"{RESULTS}/tables/claim_tests.html",
            caption="../report/claim_tests.rst",
            category="Did it reproduce?",
            labels={"table": "the claims' paired tests (sortable)"},
        ),
        reported_html=report(
            f"{RESULTS}/tables/vs_reported.html",
            caption="../report/vs_reported.rst",
            category="Did it reproduce?",
            labels={"table": "ours vs the reports' numbers (sortable)"},
        ),
    log:
        f"{RESULTS}/logs/claims.log",
    conda:
        "../../envs/report.yaml"
    params:
        claims_sha256=study_config.texts_digest([dataclasses.asdict(c) for c in CLAIMS]),
        max_interval_width=config["max_interval_width"],
    script:
        "../scripts/claims.py"


rule claims_figures:
    """Per report: its claims' paired effects (forest plot) and numbers, coloured by verdict."""
    input:
        claims=f"{RESULTS}/tables/claims.csv",
        tests=f"{RESULTS}/tables/claim_tests.csv",
        reported=f"{RESULTS}/tables/vs_reported.csv",
        code=code_of("claims_figures.py"),
    output:
        [
            report(
                path,
                caption="../report/claims_figure.rst",
                category="Did it reproduce?",
                labels={"report": report_id, "figure": "claims"},
            )
            for report_id, path in zip(REPORTS, claims_figures())
        ],
    log:
        f"{RESULTS}/logs/figures/claims.log",
    conda:
        "../../envs/report.yaml"
    params:
        reports_sha256=study_config.texts_digest(config["reports"]),
    script:
        "../scripts/claims_figures.py"


rule front_page:
    """The report's first page: per report, its claims judged; then per study, answers and numbers."""
    input:
        unpack(reference_tables),
        intro=workflow.source_path("../report/workflow.rst"),
        runs=f"{RESULTS}/tables/runs.csv",
        answers=f"{RESULTS}/tables/answers.csv",
        claims=f"{RESULTS}/tables/claims.csv",
        reported=f"{RESULTS}/tables/vs_reported.csv",
        code=code_of("front_page.py"),
    output:
        FRONT_PAGE,
    log:
        f"{RESULTS}/logs/front_page.log",
    conda:
        "../../envs/report.yaml"
    params:
        texts_sha256=study_config.texts_digest(study_config.page_texts(config)),
        demo=bool(config["demo_sources"]),
    script:
        "../scripts/front_page.py"


rule reproduction_summary:
    """Per report, what it ran beside what we ran (deviations marked and explained), what was
    not run and why, the compute used, every model's parameters, and every download's source,
    checksum, version and licence."""
    input:
        runs=f"{RESULTS}/tables/runs.csv",
        claims=f"{RESULTS}/tables/claims.csv",
        compute=f"{RESULTS}/tables/compute.csv",
        counts=[f"{RESULTS}/tables/datasets/{d}_counts.csv" for d in DATASETS],
        code=code_of("reproduction_summary.py"),
    output:
        setup=f"{RESULTS}/tables/setup.csv",
        sources=f"{RESULTS}/tables/sources.csv",
        html=report(
            f"{RESULTS}/report/reproduction.html",
            caption="../report/reproduction.rst",
            category="Did it reproduce?",
            labels={"table": "reproduction summary"},
        ),
    log:
        f"{RESULTS}/logs/reproduction_summary.log",
    conda:
        "../../envs/report.yaml"
    params:
        datasets=DATASETS,
        setup_sha256=study_config.texts_digest(
            [
                config[k]
                for k in ("studies", "sources", "downloads", "datasets", "select")
            ]
        ),
    script:
        "../scripts/reproduction_summary.py"
