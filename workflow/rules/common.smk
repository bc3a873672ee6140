import dataclasses
import os
import sys
from pathlib import Path

from snakemake.utils import min_version

# The cnnstudy package lives in src/. Jobs import it as installed: into the Python that runs
# Snakemake (make installs this checkout into .venv) or, with --sdm conda, into each
# environment (envs/*.post-deploy.sh). Checked here, before this process adds src/ to find it.
from importlib.util import find_spec
from snakemake.settings.types import DeploymentMethod

_installed = find_spec("cnnstudy")
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from cnnstudy import checkout

if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    checkout.check_package(
        workflow.basedir, _installed and _installed.origin, sys.executable
    )
# every job checks that it imported this checkout's package (a conda env built by another
# clone, say); the envs' post-deploy scripts install from here
os.environ[checkout.CHECKOUT_VARIABLE] = str(Path(workflow.basedir).resolve())

from cnnstudy import config as study_config
from cnnstudy import imported_files, paths, preflight
from cnnstudy.performance.compute import memory_request, runtime_request
from cnnstudy.data.download import url_to_local_path
from cnnstudy.comparing.bundle import TABLES as bundle_tables
from cnnstudy.comparing.bundle import folder_files as bundle_folder_files

min_version("9.0")


# The one loader of every entry point (status too): each config file re-read before anything
# else (duplicated keys and alias bombs fail naming the key; Snakemake's YAML loader keeps
# the last duplicate), then the schema with its defaults, the cross-references and sorted keys.
config.update(study_config.prepare(config, workflow.configfiles))
preflight.check_writable(study_config.RESULTS)

RESULTS = study_config.RESULTS
FRONT_PAGE = f"{RESULTS}/report/front_page.rst"
# The selected runs (config key select; every run when it is empty), and what they need.
RUNS = study_config.runs(config)
STUDIES = study_config.selected_studies(config)
DATASETS = study_config.datasets_needed(config)
REPORTS = list(config["reports"])
CLAIMS = study_config.all_claims(config)
COCO_DATASETS = [n for n in DATASETS if config["datasets"][n]["kind"] == "coco"]
OTHER_DATASETS = [n for n in DATASETS if n not in COCO_DATASETS]


def front_page():
    """The report's first page: the results once the front_page rule wrote them, else the
    static description of the pipeline."""
    built = Path(FRONT_PAGE)
    return str(built.resolve()) if built.exists() else "workflow/report/workflow.rst"


def projection_settings():
    """Per run, what its projected time depends on (not its learning rate, say)."""
    keys = (
        "arch",
        "options",
        "batch_size",
        "epochs",
        "optimizer",
        "precision",
        "resize",
    )
    return {
        f"{s}/{r}": {k: v for k, v in run_params_of(s, r, 0).items() if k in keys}
        for s, r, _ in RUNS
    }


def run_params_of(study, run, seed):
    return dataclasses.asdict(study_config.run_config(config, study, run, seed))


def study_title(wildcards):
    """A param of every figure that shows it: editing a title redraws them."""
    return config["studies"][wildcards.study]["title"]


def study_category(wildcards):
    """Report categories are named by the study's title, not its key."""
    return study_title(wildcards)


def code_of(script, notebook=None):
    """The package files a rule's script (and the notebook it runs) import, transitively: an
    input, so editing one reruns exactly the rules that run it."""
    sources = [Path(workflow.basedir) / "workflow" / "scripts" / script]
    if notebook:
        sources.append(Path(workflow.basedir) / "workflow" / "notebooks" / notebook)
    return imported_files(*sources)


def regex_of(names):
    return "|".join(map(str, names)) if names else "__none__"


wildcard_constraints:
    study=regex_of(STUDIES),
    model=regex_of(sorted({r for _, r, _ in RUNS})),
    seed=r"\d+",
    dataset=regex_of(DATASETS),
    download=regex_of(study_config.downloads_needed(config)),


def download_path(name):
    return study_config.download_path(config, name)


def local_source_of(wildcards):
    """A file: URL is an input of its download, so a rule that makes it runs first."""
    local = url_to_local_path(config["downloads"][wildcards.download]["url"])
    return [str(local)] if local is not None else []


def extracted_path(ref):
    """Path inside an extracted download, from a {download, path} config entry."""
    return f"{RESULTS}/raw/{ref['download']}/{ref['path']}"


def extracted_dir_of(ref):
    return f"{RESULTS}/raw/{ref['download']}"


def dataset_inputs(wildcards):
    """What a non-COCO dataset is prepared from: an extracted archive, idx files or another dataset."""
    spec = config["datasets"][wildcards.dataset]
    if "archive" in spec:
        return {"root": extracted_dir_of(spec["archive"])}
    if "files" in spec:
        return {k: download_path(name) for k, name in spec["files"].items()}
    return {"source": dataset_file(spec["source"])}


def downloaded_file_checksums(wildcards):
    """Checksum entries of the downloads a dataset reads without extraction (MNIST's idx files)."""
    spec = config["datasets"][wildcards.dataset]
    return {k: config["downloads"][name] for k, name in spec.get("files", {}).items()}


def dataset_root(wildcards):
    spec = config["datasets"][wildcards.dataset]
    return extracted_path(spec["archive"]) if "archive" in spec else None


def dataset_file(dataset):
    return f"{RESULTS}/datasets/{dataset}/data.pt"


def dataset_of_study(wildcards):
    return dataset_file(config["studies"][wildcards.study]["dataset"])


def pretrained_weights(wildcards):
    """The downloaded weights a run starts from, if any (an input, so they are fetched first)."""
    name = config["studies"][wildcards.study]["runs"][wildcards.model].get("pretrained")
    return [download_path(name)] if name else []


def pretrained_checksums(wildcards):
    """Checksum entries of those weights: training re-verifies them before loading."""
    name = config["studies"][wildcards.study]["runs"][wildcards.model].get("pretrained")
    return [config["downloads"][name]] if name else []


def run_dir(study, model, seed):
    return str(paths.run_dir(study, model, seed))


RUN_PATTERN = run_dir("{study}", "{model}", "{seed}")


def run_params(wildcards):
    """The resolved settings of one run, as a plain dict: Snakemake compares params it can
    serialize, so a change reruns that run only (the job rebuilds the RunConfig)."""
    return run_params_of(wildcards.study, wildcards.model, int(wildcards.seed))


def first_seed(study, model):
    """Interpretation figures are drawn for each run's first seed."""
    return study_config.seeds_of(config, study, model)[0]


def interpreted_runs(study):
    """(run, seed) whose best model is interpreted: each run's first seed."""
    return [
        (m, first_seed(study, m))
        for m in dict.fromkeys(m for m, _ in runs_of_study(study))
    ]


def interpreted_models(wildcards):
    return [
        f"{run_dir(wildcards.study, m, s)}/best_model.pt"
        for m, s in interpreted_runs(wildcards.study)
    ]


def interpreted_run_params(wildcards):
    """The settings of each interpreted run (a change reruns the study's interpretation)."""
    return [
        run_params_of(wildcards.study, m, s)
        for m, s in interpreted_runs(wildcards.study)
    ]


def runs_of_study(study):
    return [(m, s) for st, m, s in RUNS if st == study]


def run_outputs(name, study=None):
    return [f"{run_dir(st, m, s)}/{name}" for st, m, s in RUNS if study in (None, st)]


def train_resources(key):
    return config["resources"]["train"][key]


def shares_gpu(wildcards):
    return study_config.shares_gpu(config, wildcards.study, wildcards.model)


# A training job asks for its run's measured time and memory with a margin (resources.train
# runtime and mem_mb: the caps, and the requests where nothing was measured)
PROJECTION = f"{RESULTS}/performance/projection.csv"
RUNTIME = runtime_request(
    cap=train_resources("runtime"),
    margin=train_resources("runtime_margin"),
    floor=train_resources("runtime_floor"),
)
MEMORY = memory_request(
    cap=train_resources("mem_mb"),
    margin=train_resources("mem_margin"),
    floor=train_resources("mem_floor"),
)


# Training on GPUs gets an environment pinned to a CUDA build of pytorch (never a CPU one).
TRAIN_ENV = (
    "../../envs/torch-gpu.yaml" if train_resources("gpus") else "../../envs/torch.yaml"
)


# The results bundle (rule bundle) and the tables it packs
BUNDLE = f"{RESULTS}/bundle.zip"
BUNDLE_TABLES = list(bundle_tables)
REFERENCE_TABLES = {
    name: f"{RESULTS}/tables/reference_{name}.csv"
    for name in ("verdicts", "numbers", "provenance")
}


def reference_files():
    """What the comparison reads of the reference run (config key reference): the bundle, or
    the files of a results folder it reads; none without a reference."""
    reference = config["reference"]
    if not reference:
        return []
    if Path(reference).is_dir():
        return [str(f) for f in bundle_folder_files(reference).values()]
    return [reference]


def reference_tables(wildcards):
    """The front page shows ours against the reference where there is one."""
    return REFERENCE_TABLES if config["reference"] else {}


def claims_figures():
    """One figure per source report: its claims' tests and numbers, coloured by verdict."""
    return [f"{RESULTS}/figures/claims/claims_{r}.png" for r in REPORTS]


def all_targets():
    targets = [
        f"{RESULTS}/tables/runs.csv",
        f"{RESULTS}/tables/curves.csv",
        f"{RESULTS}/tables/answers.csv",
        f"{RESULTS}/tables/claims.csv",
        f"{RESULTS}/conv/cases.csv",
        f"{RESULTS}/conv/timing.csv",
        f"{RESULTS}/figures/conv/errors.png",
        f"{RESULTS}/figures/conv/timing.png",
        f"{RESULTS}/notebooks/conv_tester.html",
        f"{RESULTS}/performance/projection.csv",
        f"{RESULTS}/tables/compute.csv",
        BUNDLE,
        f"{RESULTS}/report/reproduction.html",
        FRONT_PAGE,
    ]
    targets += claims_figures()
    targets += [f"{RESULTS}/figures/datasets/{d}_samples.png" for d in DATASETS]
    targets += [f"{RESULTS}/figures/datasets/{d}_card.png" for d in DATASETS]
    for study in STUDIES:
        targets += [
            f"{RESULTS}/figures/{study}/curves_epoch.png",
            f"{RESULTS}/figures/{study}/curves_steps.png",
            f"{RESULTS}/figures/{study}/per_class_accuracy.png",
            f"{RESULTS}/figures/{study}/ablation.png",
            f"{RESULTS}/figures/{study}/gradient_norms.png",
            f"{RESULTS}/figures/{study}/vs_reported.png",
            f"{RESULTS}/notebooks/{study}_analysis.html",
        ]
        targets += [f"{RESULTS}/figures/{study}/confusion"]
        targets += [
            f"{RESULTS}/figures/{study}/interpret/{kind}"
            for kind in ("attribution", "feature_maps", "filters")
        ]
    return targets
