# Stage 2: prepared datasets (uint8 tensors + manifest), with a data card and sample grid each.


rule coco_subset:
    """The seed-002 COCO classification subset, built with pycocotools."""
    input:
        annotations=lambda wc: extracted_dir_of(
            config["datasets"][wc.dataset]["annotations"]
        ),
        images=lambda wc: extracted_dir_of(config["datasets"][wc.dataset]["images"]),
        code=code_of("coco_subset.py"),
    output:
        data=f"{RESULTS}/datasets/{{dataset}}/data.pt",
        manifest=f"{RESULTS}/datasets/{{dataset}}/manifest.csv",
        images=directory(f"{RESULTS}/datasets/{{dataset}}/images"),
    log:
        f"{RESULTS}/logs/datasets/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/datasets/{{dataset}}.tsv"
    wildcard_constraints:
        dataset=regex_of(COCO_DATASETS),
    conda:
        "../../envs/data.yaml"
    params:
        spec=lambda wc: config["datasets"][wc.dataset],
        annotation_file=lambda wc: extracted_path(
            config["datasets"][wc.dataset]["annotations"]
        ),
        image_dir=lambda wc: extracted_path(config["datasets"][wc.dataset]["images"]),
    script:
        "../scripts/coco_subset.py"


rule prepare_dataset:
    """CIFAR-10 (binary release), MNIST (idx), MNIST at variable resolution, Imagenette (folders)."""
    input:
        unpack(dataset_inputs),
        code=code_of("prepare_dataset.py"),
    output:
        data=f"{RESULTS}/datasets/{{dataset}}/data.pt",
    log:
        f"{RESULTS}/logs/datasets/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/datasets/{{dataset}}.tsv"
    wildcard_constraints:
        dataset=regex_of(OTHER_DATASETS),
    conda:
        "../../envs/data.yaml"
    params:
        spec=lambda wc: config["datasets"][wc.dataset],
        root=dataset_root,
        checksums=downloaded_file_checksums,
    script:
        "../scripts/prepare_dataset.py"


rule dataset_card:
    """Counts per class and split, and a grid of random samples per class."""
    input:
        dataset_file("{dataset}"),
        code=code_of("dataset_card.py"),
    output:
        samples=report(
            f"{RESULTS}/figures/datasets/{{dataset}}_samples.png",
            caption="../report/dataset_samples.rst",
            category="Datasets",
            labels={"dataset": "{dataset}", "figure": "samples"},
        ),
        card=report(
            f"{RESULTS}/figures/datasets/{{dataset}}_card.png",
            caption="../report/dataset_card.rst",
            category="Datasets",
            labels={"dataset": "{dataset}", "figure": "counts"},
        ),
        counts=f"{RESULTS}/tables/datasets/{{dataset}}_counts.csv",
    log:
        f"{RESULTS}/logs/datasets/{{dataset}}_card.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/dataset_card.py"
