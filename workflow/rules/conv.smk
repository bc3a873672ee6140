# Stage 3: the hand-written convolutions, checked against torch; a gate before any training.


rule conv_tests:
    """Every case x implementation against F.conv2d and autograd; fails naming the failing cases."""
    input:
        code=code_of("conv_tests.py"),
    output:
        f"{RESULTS}/conv/cases.csv",
    log:
        f"{RESULTS}/logs/conv/tests.log",
    benchmark:
        f"{RESULTS}/benchmarks/conv/tests.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/conv_tests.py"


rule conv_timing:
    """Forward and backward seconds of each implementation beside F.conv2d, in one run."""
    input:
        f"{RESULTS}/conv/cases.csv",
        code=code_of("conv_timing.py"),
    output:
        f"{RESULTS}/conv/timing.csv",
    log:
        f"{RESULTS}/logs/conv/timing.log",
    conda:
        "../../envs/torch.yaml"
    threads: 2
    params:
        shapes=config["conv_tests"]["timing_shapes"],
        repeats=config["conv_tests"]["timing_repeats"],
    script:
        "../scripts/conv_timing.py"


rule conv_figures:
    input:
        cases=f"{RESULTS}/conv/cases.csv",
        timing=f"{RESULTS}/conv/timing.csv",
        code=code_of("conv_figures.py"),
    output:
        errors=report(
            f"{RESULTS}/figures/conv/errors.png",
            caption="../report/conv_errors.rst",
            category="Convolution from scratch",
            labels={"figure": "error against torch"},
        ),
        timing=report(
            f"{RESULTS}/figures/conv/timing.png",
            caption="../report/conv_timing.rst",
            category="Convolution from scratch",
            labels={"figure": "time against torch"},
        ),
        cases_html=report(
            f"{RESULTS}/conv/cases.html",
            caption="../report/conv_cases.rst",
            category="Convolution from scratch",
            labels={"table": "correctness"},
        ),
        timing_html=report(
            f"{RESULTS}/conv/timing.html",
            caption="../report/conv_timing.rst",
            category="Convolution from scratch",
            labels={"table": "timing"},
        ),
    log:
        f"{RESULTS}/logs/conv/figures.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/conv_figures.py"


rule conv_notebook:
    """Seed 004's Conv2DTester as a parameterized notebook, executed with papermill."""
    input:
        notebook=workflow.source_path("../notebooks/conv_tester.ipynb"),
        gate=f"{RESULTS}/conv/cases.csv",
        code=code_of("conv_notebook.py", "conv_tester.ipynb"),
    output:
        notebook=f"{RESULTS}/notebooks/conv_tester.ipynb",
        html=report(
            f"{RESULTS}/notebooks/conv_tester.html",
            caption="../report/conv_notebook.rst",
            category="Convolution from scratch",
            labels={"notebook": "conv tester"},
        ),
    log:
        f"{RESULTS}/logs/conv/notebook.log",
    conda:
        "../../envs/report.yaml"
    params:
        shape=config["conv_tests"]["notebook_shape"],
    script:
        "../scripts/conv_notebook.py"
