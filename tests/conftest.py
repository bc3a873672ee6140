import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CNNSTUDY_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared(*parts) -> Path:
    """A path of the real-data mirror; the test is skipped when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not present: {p}")
    return p


@pytest.fixture(scope="session")
def demo_coco(tmp_path_factory):
    """The demo COCO twin, extracted: (annotation file, image folder)."""
    from cnnstudy.demo_data import make_coco
    from cnnstudy.download import extract

    root = tmp_path_factory.mktemp("demococo")
    paths = make_coco(root / "src", images_per_class=30, distractor_images=6, seed=3)
    ann = extract(paths["annotations"], root / "ann")
    img = extract(paths["images"], root / "img")
    return ann / "annotations" / "instances_train2014.json", img / "train2014"
