# Comparing runs: the results bundle a run publishes, and ours against a reference run.


rule bundle:
    """What this run concluded, in one small verified zip: tables, run summaries, config,
    provenance and a manifest of sha256 (no checkpoint, no dataset)."""
    input:
        **{name: f"{RESULTS}/tables/{name}.csv" for name in BUNDLE_TABLES},
        summaries=run_outputs("summary.json"),
        code=code_of("bundle.py"),
        # the code that wrote the tables: its digest is the bundle's tables_code_sha256
        tables_code=code_of("aggregate.py")
        + code_of("answers.py")
        + code_of("claims.py"),
    output:
        bundle=BUNDLE,
        provenance=f"{RESULTS}/provenance.json",
    log:
        f"{RESULTS}/logs/bundle.log",
    conda:
        "../../envs/report.yaml"
    params:
        # the resolved config goes into the bundle: an edit of it rebuilds the bundle (seconds)
        config_sha256=study_config.texts_digest(config),
    script:
        "../scripts/bundle.py"


rule against_reference:
    """Ours against the reference run (config key reference): changed verdicts, runs whose
    metric moved beyond seed noise, and the two runs' provenance side by side."""
    input:
        reference=reference_files(),
        ours=BUNDLE,
        code=code_of("against_reference.py"),
    output:
        verdicts=f"{RESULTS}/tables/reference_verdicts.csv",
        numbers=f"{RESULTS}/tables/reference_numbers.csv",
        provenance=f"{RESULTS}/tables/reference_provenance.csv",
        html=report(
            f"{RESULTS}/tables/reference_numbers.html",
            caption="../report/reference_numbers.rst",
            category="Did it reproduce?",
            labels={"table": "against the reference: every run's metric"},
        ),
    log:
        f"{RESULTS}/logs/against_reference.log",
    conda:
        "../../envs/report.yaml"
    params:
        # a digest, never the path itself: a report job's params are embedded in the report
        reference_sha256=study_config.texts_digest(config["reference"]),
    script:
        "../scripts/against_reference.py"
