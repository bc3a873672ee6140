import hashlib
import json

import numpy as np
import pytest
from conftest import shared
from PIL import Image

from cnnstudy.data import coco

CLASSES = ["airplane", "bus", "cat", "dog", "pizza"]


def build(ann, img, out, **kw):
    args = dict(classes=CLASSES, train_per_class=16, val_per_class=8, size=32, seed=0) | kw
    return coco.build_subset(ann, img, out, **args)


def test_subset_is_disjoint_balanced_and_auditable(demo_coco, tmp_path):
    ann, img = demo_coco
    manifest, splits = build(ann, img, tmp_path)
    assert manifest.image_id.is_unique  # no image in two classes or in both splits
    counts = manifest.groupby(["split", "class"]).size()
    assert (counts.loc["train"] == 16).all() and (counts.loc["val"] == 8).all()
    for row in manifest.itertuples():
        data = (tmp_path / row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
    x, y = splits["train"]
    assert x.dtype == np.uint8 and x.shape == (80, 3, 32, 32) and sorted(set(y)) == [0, 1, 2, 3, 4]


def test_label_is_the_dominant_study_class(demo_coco, tmp_path):
    ann, img = demo_coco
    manifest, _ = build(ann, img, tmp_path)
    doc = json.loads(ann.read_text())
    names = {c["id"]: c["name"] for c in doc["categories"]}
    area = {}
    for a in doc["annotations"]:
        if names[a["category_id"]] in CLASSES:
            area.setdefault(a["image_id"], {}).setdefault(names[a["category_id"]], 0)
            area[a["image_id"]][names[a["category_id"]]] += a["area"]
    multi = 0
    for row in manifest.itertuples():
        by_class = area[row.image_id]
        multi += len(by_class) > 1
        assert row._3 == max(by_class, key=by_class.get)
    assert multi > 0  # the demo data really contains images with several study classes


def test_grayscale_sources_become_rgb(demo_coco, tmp_path):
    ann, img = demo_coco
    manifest, splits = build(ann, img, tmp_path)
    modes = {row.image_id: Image.open(img / row.file_name).mode for row in manifest.itertuples()}
    assert "L" in modes.values()
    assert all(Image.open(tmp_path / p).mode == "RGB" for p in manifest.path)


def test_same_seed_same_subset_other_seed_other_subset(demo_coco, tmp_path):
    ann, img = demo_coco
    a, _ = build(ann, img, tmp_path / "a")
    b, _ = build(ann, img, tmp_path / "b")
    c, _ = build(ann, img, tmp_path / "c", seed=1)
    assert a.equals(b)
    assert set(a.image_id) != set(c.image_id) or list(a.image_id) != list(c.image_id)


def test_missing_images_are_listed_by_id(demo_coco, tmp_path):
    ann, img = demo_coco
    selected = coco.select_images(coco.load_coco(ann), CLASSES, 16, 8, seed=0)
    gone, corrupt = list(selected.file_name[:2]), selected.file_name.iloc[5]
    broken = tmp_path / "images"
    broken.mkdir()
    for f in img.iterdir():
        if f.name not in gone:
            (broken / f.name).write_bytes(f.read_bytes())
    (broken / corrupt).write_bytes(b"not a jpeg")
    with pytest.raises(coco.SubsetError) as err:
        build(ann, broken, tmp_path / "out")
    msg = str(err.value)
    assert msg.startswith("3 selected COCO image(s) are missing or unreadable")
    for image_id in list(selected.image_id[:2]) + [selected.image_id.iloc[5]]:
        assert f"{image_id} (" in msg
    assert not (tmp_path / "out" / "images").exists()  # nothing half-written


def test_unknown_class_and_too_few_images_are_clear_errors(demo_coco, tmp_path):
    ann, img = demo_coco
    with pytest.raises(coco.SubsetError, match="'unicorn'.*known"):
        build(ann, img, tmp_path, classes=["cat", "unicorn"])
    with pytest.raises(coco.SubsetError, match="lower those counts"):
        build(ann, img, tmp_path, train_per_class=100)


def test_real_coco128_with_2017_naming(tmp_path):
    ann = shared("coco128", "annotations", "instances_train2017.json")
    img = shared("coco128", "train2017")
    manifest, splits = build(ann, img, tmp_path, train_per_class=2, val_per_class=2, size=64)
    assert len(manifest) == 20 and manifest.image_id.is_unique
    assert manifest.file_name.str.match(r"^\d{12}\.jpg$").all()
    x, _ = splits["val"]
    assert x.shape == (10, 3, 64, 64) and x.std() > 10  # real photos, not blank


@pytest.mark.parametrize(
    "content,why",
    [
        ("{not json", "not a COCO instances annotation file"),
        ("[1, 2]", "not a COCO instances annotation file"),
        ('{"images": []}', "has no \\['annotations', 'categories'\\]"),
    ],
)
def test_bad_annotation_file_is_named_in_the_error(tmp_path, content, why):
    bad = tmp_path / "instances_train2014.json"
    bad.write_text(content)
    with pytest.raises(coco.SubsetError, match=f"{bad}.*{why}|{bad} is not.*{why}"):
        coco.load_coco(bad)
    with pytest.raises(coco.SubsetError, match="does not exist"):
        coco.load_coco(tmp_path / "missing.json")
