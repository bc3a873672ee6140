# Stage 5: tidy tables over all runs (pandas).


rule aggregate:
    """One row per run, all curves in long format, all confusion matrices."""
    input:
        summaries=run_outputs("summary.json"),
        metrics=run_outputs("metrics.csv"),
        confusion=run_outputs("confusion.csv"),
        grad_norms=run_outputs("grad_norms.csv"),
        code=code_of("aggregate"),
    output:
        runs=report(
            f"{RESULTS}/tables/runs.csv",
            caption="../report/runs_table.rst",
            category="Tables",
            labels={"table": "runs"},
        ),
        curves=f"{RESULTS}/tables/curves.csv",
        confusion=f"{RESULTS}/tables/confusion.csv",
        grad_norms=f"{RESULTS}/tables/grad_norms.csv",
    log:
        f"{RESULTS}/logs/aggregate.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/aggregate.py"


rule study_notebook:
    """The study's questions answered in a papermill-executed notebook, rendered for the report."""
    input:
        notebook=workflow.source_path("../notebooks/study_analysis.ipynb"),
        runs=f"{RESULTS}/tables/runs.csv",
        answers=f"{RESULTS}/tables/answers.csv",
        reported=f"{RESULTS}/tables/vs_reported.csv",
        code=code_of("notebooks"),
    output:
        notebook=f"{RESULTS}/notebooks/{{study}}_analysis.ipynb",
        html=report(
            f"{RESULTS}/notebooks/{{study}}_analysis.html",
            caption="../report/study_notebook.rst",
            category="{study}",
            subcategory="Analysis notebook",
            labels={"study": "{study}", "notebook": "analysis"},
        ),
    log:
        f"{RESULTS}/logs/notebooks/{{study}}_analysis.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/run_notebook.py"


rule answers:
    """The reports' questions answered from the data, with the spread over seeds."""
    input:
        runs=f"{RESULTS}/tables/runs.csv",
        confusion=f"{RESULTS}/tables/confusion.csv",
        code=code_of("aggregate"),
    output:
        answers=report(
            f"{RESULTS}/tables/answers.csv",
            caption="../report/answers.rst",
            category="Tables",
            labels={"table": "answers"},
        ),
        reported=report(
            f"{RESULTS}/tables/vs_reported.csv",
            caption="../report/vs_reported.rst",
            category="Tables",
            labels={"table": "ours vs reported"},
        ),
    log:
        f"{RESULTS}/logs/answers.log",
    conda:
        "../../envs/report.yaml"
    params:
        studies={s: config["studies"][s] for s in STUDIES},
    script:
        "../scripts/answers.py"
