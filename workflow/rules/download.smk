# Stage 1: every remote file of the config, fetched and verified by checksum, then extracted.


rule demo_coco_source:
    """Generate the offline demo's COCO twin (official layout) that demo.yaml fetches via file: URLs."""
    input:
        code=code_of("demo_source.py"),
    output:
        images=f"{RESULTS}/demo_source/coco/train2014.zip",
        annotations=f"{RESULTS}/demo_source/coco/annotations_trainval2014.zip",
    log:
        f"{RESULTS}/logs/demo_coco_source.log",
    conda:
        "../../envs/data.yaml"
    params:
        settings=config["demo_sources"].get("coco", {}),
    script:
        "../scripts/demo_source.py"


rule demo_cifar10_source:
    """The demo's CIFAR-10 twin: cifar-10-binary.tar.gz in the official binary layout."""
    input:
        code=code_of("demo_source.py"),
    output:
        f"{RESULTS}/demo_source/cifar10/cifar-10-binary.tar.gz",
    log:
        f"{RESULTS}/logs/demo_cifar10_source.log",
    conda:
        "../../envs/data.yaml"
    params:
        settings=config["demo_sources"].get("cifar10", {}),
    script:
        "../scripts/demo_source.py"


rule demo_mnist_source:
    """The demo's MNIST twin: the four official idx files, gzipped."""
    input:
        code=code_of("demo_source.py"),
    output:
        train_images=f"{RESULTS}/demo_source/mnist/train-images-idx3-ubyte.gz",
        train_labels=f"{RESULTS}/demo_source/mnist/train-labels-idx1-ubyte.gz",
        test_images=f"{RESULTS}/demo_source/mnist/t10k-images-idx3-ubyte.gz",
        test_labels=f"{RESULTS}/demo_source/mnist/t10k-labels-idx1-ubyte.gz",
    log:
        f"{RESULTS}/logs/demo_mnist_source.log",
    conda:
        "../../envs/data.yaml"
    params:
        settings=config["demo_sources"].get("mnist", {}),
    script:
        "../scripts/demo_source.py"


rule demo_imagenette_source:
    """The demo's Imagenette twin: imagenette2-160.tgz in the release's folder layout."""
    input:
        code=code_of("demo_source.py"),
    output:
        f"{RESULTS}/demo_source/imagenette/imagenette2-160.tgz",
    log:
        f"{RESULTS}/logs/demo_imagenette_source.log",
    conda:
        "../../envs/data.yaml"
    params:
        settings=config["demo_sources"].get("imagenette", {}),
    script:
        "../scripts/demo_source.py"


rule demo_resnet18_source:
    """The demo's ImageNet-weights twin: a seeded resnet18 state dict in torchvision's format."""
    input:
        code=code_of("demo_source.py"),
    output:
        f"{RESULTS}/demo_source/resnet18/resnet18-demo.pth",
    log:
        f"{RESULTS}/logs/demo_resnet18_source.log",
    conda:
        "../../envs/torch.yaml"
    params:
        settings=config["demo_sources"].get("resnet18", {}),
    script:
        "../scripts/demo_source.py"


rule download:
    """Fetch one file of config['downloads'] with retries and verify its checksum."""
    input:
        local_source_of,
        code=code_of("download.py"),
    output:
        f"{RESULTS}/downloads/{{download}}/{{filename}}",
    log:
        f"{RESULTS}/logs/download/{{download}}/{{filename}}.log",
    # fetch retries itself, resuming, within one deadline; a Snakemake retry (or a profile's
    # retries) would start the download again with a fresh one
    retries: 0
    conda:
        "../../envs/data.yaml"
    resources:
        downloads=1,
    params:
        entry=lambda wc: config["downloads"][wc.download],
        cache=config["download_cache"],
        retries=config["download_retries"],
        deadline_minutes=config["download_deadline_minutes"],
        min_kb_per_second=config["download_min_kb_per_second"],
    script:
        "../scripts/download.py"


rule extract:
    """Re-verify an archive's checksum, then unpack it; absolute paths, '..' and links are refused."""
    input:
        lambda wc: download_path(wc.download),
        code=code_of("extract.py"),
    output:
        directory(f"{RESULTS}/raw/{{download}}"),
    log:
        f"{RESULTS}/logs/extract/{{download}}.log",
    conda:
        "../../envs/data.yaml"
    params:
        entry=lambda wc: config["downloads"][wc.download],
        limit_gb=config["extract_limit_gb"],
    script:
        "../scripts/extract.py"
