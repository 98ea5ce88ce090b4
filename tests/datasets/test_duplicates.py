"""Copies and near-copies form groups that the engine's split keeps whole, so the test score is not flattered."""

import io

from PIL import Image

from apps.datasets.duplicates import duplicate_groups
from apps.datasets.ingestion import ingest_archive
from apps.nas.data import ImageDataset, split_dataset
from tests.datasets.conftest import class_folder_files, make_zip
from tests.datasets.test_findings import record


def test_exact_and_near_copies_in_a_class_share_a_group_and_chains_join():
    records = [record("cat/a.png", "cat", phash=0), record("cat/a_copy.png", "cat", sha="cat/a.png"),
               record("cat/b.png", "cat", phash=0b1111), record("cat/c.png", "cat", phash=0b1111_1111),
               record("cat/other.png", "cat", phash=2**40 - 1), record("dog/d.png", "dog", phash=2**60 - 1)]

    # a ~ b and b ~ c are 4 bits apart (near), a and c are 8 apart: one chain, one group.
    assert duplicate_groups(records) == [0, 0, 0, 0, 1, 2]


def test_copies_across_classes_are_not_grouped():
    records = [record("cat/a.png", "cat", phash=0), record("dog/a.png", "dog", sha="cat/a.png"),
               record("dog/b.png", "dog", phash=1)]

    assert duplicate_groups(records) == [0, 1, 2]


def test_tiny_images_are_grouped_only_by_exact_content():
    records = [record("cat/a.png", "cat", phash=0, side=8), record("cat/b.png", "cat", phash=1, side=8),
               record("cat/c.png", "cat", sha="cat/a.png", side=8)]

    assert duplicate_groups(records) == [0, 1, 0]


def test_an_upload_with_copies_keeps_each_copy_with_its_original_in_every_split(tmp_path):
    files = class_folder_files({"cat": 20, "dog": 20})
    resaved = io.BytesIO()
    Image.open(io.BytesIO(files["cat/img_0.png"])).save(resaved, "JPEG", quality=95)
    files["cat/resaved_0.jpg"] = resaved.getvalue()
    files["dog/copy_3.png"] = files["dog/img_3.png"]

    result = ingest_archive(make_zip(tmp_path / "pets.zip", files), tmp_path / "work", tmp_path / "out")

    dataset = ImageDataset.load(tmp_path / "out" / result.training_file)
    group_of = dict(zip(dataset.paths, dataset.groups.tolist(), strict=True))
    assert group_of["cat/img_0.png"] == group_of["cat/resaved_0.jpg"]
    assert group_of["dog/img_3.png"] == group_of["dog/copy_3.png"]
    assert len(set(group_of.values())) == len(dataset) - 2
    for seed in range(5):
        splits = split_dataset(dataset, seed=seed)
        for pair in (("cat/img_0.png", "cat/resaved_0.jpg"), ("dog/img_3.png", "dog/copy_3.png")):
            assert [sum(path in part.paths for path in pair) for part in (splits.train, splits.val, splits.test)] \
                in ([2, 0, 0], [0, 2, 0], [0, 0, 2])
