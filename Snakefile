# The CNN study pipeline: download -> datasets -> conv gate -> train -> aggregate -> figures -> report
# (and a bundle of what it concluded, compared with a reference run where one is given).
# Every stage lives in workflow/rules/<stage>.smk; all logic lives in the cnnstudy package.


# --configfile replaces the default config instead of being merged into it: the demo and a
# lab's own study config are complete configs, not patches of the full study.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/conv.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/performance.smk"
include: "workflow/rules/compare.smk"


report: front_page()


# Light rules run where Snakemake runs, never as cluster jobs: downloads need the internet a
# compute node often lacks, and tables and figures take seconds (a job each would queue).
localrules:
    demo_coco_source,
    demo_cifar10_source,
    demo_mnist_source,
    demo_imagenette_source,
    demo_resnet18_source,
    download,
    extract,
    aggregate,
    answers,
    claims,
    claims_figures,
    study_figures,
    confusion_figures,
    dataset_card,
    conv_figures,
    conv_notebook,
    study_notebook,
    front_page,
    compute,
    bundle,
    against_reference,
    reproduction_summary,


rule all:
    input:
        all_targets(),
