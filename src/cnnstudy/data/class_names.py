"""Each dataset kind's class names, torch- and PIL-free: the config validator checks the
classes a claim names when the workflow loads, and the readers label their data with them."""

from __future__ import annotations

# Imagenette's ten ImageNet classes (wnid -> name), in the release's sorted-wnid order.
IMAGENETTE_CLASSES = {
    "n01440764": "tench",
    "n02102040": "English springer",
    "n02979186": "cassette player",
    "n03000684": "chain saw",
    "n03028079": "church",
    "n03394916": "French horn",
    "n03417042": "garbage truck",
    "n03425413": "gas pump",
    "n03445777": "golf ball",
    "n03888257": "parachute",
}
# batches.meta.txt of the official CIFAR-10 binary release, in label order
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MNIST_CLASSES = [str(i) for i in range(10)]


def class_names(datasets: dict, name: str) -> list[str]:
    """The class names of dataset ``name`` of a config's ``datasets`` block, in label order."""
    spec = datasets[name]
    kind = spec["kind"]
    if kind == "coco":
        return list(spec["classes"])
    if kind == "mnist_varres":
        return class_names(datasets, spec["source"])
    return {
        "cifar10": CIFAR10_CLASSES,
        "mnist": MNIST_CLASSES,
        "imagenette": [IMAGENETTE_CLASSES[w] for w in sorted(IMAGENETTE_CLASSES)],
    }[kind]
