"""The whole ingestion: an upload becomes records, thumbnails, findings and exactly the engine's training data."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from apps.datasets import ingestion
from apps.datasets.archives import ArchiveError
from apps.datasets.ingestion import ingest_archive, ingest_folder
from apps.nas.data import ImageDataset, load_image_folder
from tests.datasets.conftest import class_folder_files, image_bytes, make_tar, make_zip, write_files


def codes(result) -> dict[str, str]:
    return {finding.code: finding.severity for finding in result.findings}


def assert_same_as_engine(result, out_dir, folder):
    ours = ImageDataset.load(out_dir / result.training_file)
    engine = load_image_folder(folder)
    assert ours.class_names == engine.class_names
    assert torch.equal(ours.labels, engine.labels)
    assert torch.equal(ours.images, engine.images)


def test_a_zip_of_class_folders_becomes_the_engines_training_data(tmp_path):
    upload = make_zip(tmp_path / "pets.zip", class_folder_files({"cat": 6, "dog": 7}, prefix="pets/"))

    result = ingest_archive(upload, tmp_path / "work", tmp_path / "out")

    assert result.ok and result.task == "image-classification"
    assert result.classes == [{"name": "cat", "count": 6}, {"name": "dog", "count": 7}]
    assert [r.path for r in result.records][:2] == ["pets/cat/img_0.png", "pets/cat/img_1.png"]
    assert result.stats["training_shape"] == [13, 3, 24, 24]
    assert codes(result) == {"too_few_to_judge": "warning"}
    assert_same_as_engine(result, tmp_path / "out", tmp_path / "work")


def test_mixed_formats_sizes_and_modes_match_the_engine_pixel_for_pixel(tmp_path):
    files = {}
    for i, (mode, fmt) in enumerate([("RGBA", "PNG"), ("L", "JPEG"), ("P", "GIF"), ("RGB", "WEBP"), ("RGB", "BMP"),
                                     ("LA", "PNG")]):
        files[f"a/{i}.{fmt.lower()}"] = image_bytes((20 + 7 * i, 30), mode=mode, fmt=fmt, seed=i)
        files[f"b/{i}.{fmt.lower()}"] = image_bytes((40, 16 + 5 * i), mode=mode, fmt=fmt, seed=10 + i)
    write_files(tmp_path / "data", files)

    result = ingest_folder(tmp_path / "data", tmp_path / "out")

    assert_same_as_engine(result, tmp_path / "out", tmp_path / "data")
    assert {r.channels for r in result.records} == {1, 3}
    assert "mixed_channels" in codes(result)


def test_an_all_grey_dataset_is_stored_with_one_channel_like_the_engine(tmp_path):
    write_files(tmp_path / "digits", {f"{label}/{i}.png": image_bytes((8, 8), mode="L", seed=label * 10 + i)
                                      for label in range(3) for i in range(5)})

    result = ingest_folder(tmp_path / "digits", tmp_path / "out")

    assert result.stats["training_shape"] == [15, 1, 8, 8]
    assert_same_as_engine(result, tmp_path / "out", tmp_path / "digits")


def test_thumbnails_are_small_and_every_record_has_one(tmp_path):
    write_files(tmp_path / "data", {"big/a.png": image_bytes((600, 300)), "small/b.png": image_bytes((20, 20))})

    result = ingest_folder(tmp_path / "data", tmp_path / "out")

    sizes = {r.path: Image.open(tmp_path / "out" / r.thumbnail).size for r in result.records}
    assert sizes == {"big/a.png": (128, 64), "small/b.png": (20, 20)}


def test_a_labels_csv_upload_is_ingested(tmp_path):
    files = {f"img_{i}.png": image_bytes(seed=i) for i in range(10)}
    files["labels.csv"] = ("filename,label\n" + "".join(f"img_{i}.png,{'cat' if i < 5 else 'dog'}\n"
                                                        for i in range(10))).encode()
    upload = make_tar(tmp_path / "up.tgz", files)

    result = ingest_archive(upload, tmp_path / "work", tmp_path / "out")

    assert result.classes == [{"name": "cat", "count": 5}, {"name": "dog", "count": 5}]
    assert ImageDataset.load(tmp_path / "out" / result.training_file).labels.tolist() == [0] * 5 + [1] * 5


def test_corrupt_images_are_listed_and_skipped_not_fatal(tmp_path):
    files = class_folder_files({"cat": 5, "dog": 5})
    files["cat/broken.png"] = image_bytes()[:40]
    files["dog/fake.jpg"] = b"not a picture"
    upload = make_zip(tmp_path / "up.zip", files)

    result = ingest_archive(upload, tmp_path / "work", tmp_path / "out")

    assert result.ok and len(result.records) == 10
    corrupt = next(f for f in result.findings if f.code == "corrupt_files")
    assert [f["path"] for f in corrupt.details["files"]] == ["cat/broken.png", "dog/fake.jpg"]
    assert ImageDataset.load(tmp_path / "out" / result.training_file).skipped[0][0] == "cat/broken.png"


def test_nested_archives_and_non_images_become_findings(tmp_path):
    files = class_folder_files({"cat": 5, "dog": 5})
    files["cat/more.zip"] = make_zip(tmp_path / "inner.zip", {"x.png": image_bytes()}).read_bytes()
    files["dog/readme.txt"] = b"hello"

    result = ingest_archive(make_zip(tmp_path / "up.zip", files), tmp_path / "work", tmp_path / "out")

    assert {"nested_archives": "warning", "non_image_files": "info"}.items() <= codes(result).items()


def test_a_dataset_that_cannot_train_says_so(tmp_path):
    write_files(tmp_path / "data", class_folder_files({"only": 3}))

    result = ingest_folder(tmp_path / "data", tmp_path / "out")

    assert not result.ok
    assert codes(result) == {"single_class": "error", "too_few_images": "error"}


def test_an_upload_with_no_images_writes_no_training_file(tmp_path):
    write_files(tmp_path / "data", {"cat/a.txt": b"x", "dog/b.txt": b"x"})

    result = ingest_folder(tmp_path / "data", tmp_path / "out")

    assert result.training_file == "" and not result.ok
    assert codes(result)["no_images"] == "error"


def test_a_hostile_archive_raises_and_leaves_the_work_folder_empty(tmp_path):
    upload = make_zip(tmp_path / "slip.zip", {"cat/a.png": image_bytes(), "../../evil.png": image_bytes()})

    with pytest.raises(ArchiveError):
        ingest_archive(upload, tmp_path / "work", tmp_path / "out")

    assert list((tmp_path / "work").iterdir()) == []


def test_progress_reports_every_stage_in_order_and_ends_complete(tmp_path):
    upload = make_zip(tmp_path / "up.zip", class_folder_files({"cat": 5, "dog": 5}))
    calls = []

    ingest_archive(upload, tmp_path / "work", tmp_path / "out", on_progress=lambda *call: calls.append(call))

    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == ["extracting", "reading", "decoding", "checking", "saving"]
    # The dataset page says each in words, not as the stage's name ("reading: 121 of 121").
    page_script = (Path(__file__).resolve().parents[2] / "static" / "datasets" / "detail.js").read_text()
    assert all(f'{stage}: "' in page_script for stage in stages)
    for stage in stages:
        reports = [(done, total) for name, done, total in calls if name == stage]
        assert reports[-1][0] == reports[-1][1]
        assert [done for done, _ in reports] == sorted(done for done, _ in reports)


def test_the_ingestion_library_imports_without_django():
    probe = ("import sys, apps.datasets.ingestion\n"
             "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'dramatiq'))\n"
             "assert not leaked, leaked\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---- through the worker: every failure ends with the dataset failed and a reason in plain words ----

@pytest.fixture
def logged_in(api_client, alice):
    api_client.force_login(alice)


@pytest.mark.django_db(transaction=True)
@pytest.mark.both_configurations
@pytest.mark.usefixtures("logged_in")
def test_a_zip_with_no_readable_images_ends_failed_and_says_why(upload, tmp_path):
    files = {f"cat/{i}.png": b"not a picture" for i in range(3)} | {f"dog/{i}.jpg": b"nor this" for i in range(3)}

    dataset = upload(make_zip(tmp_path / "up.zip", files).read_bytes())

    assert dataset.status == "failed"
    assert dataset.error.startswith("No readable images were found.")
    assert dataset.training_file == "" and dataset.images.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.both_configurations
@pytest.mark.usefixtures("logged_in")
def test_an_internal_error_in_a_stage_ends_failed_in_plain_words_and_logs_the_traceback(upload, tmp_path,
                                                                                       monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the findings")

    monkeypatch.setattr(ingestion, "dataset_findings", broken)

    with caplog.at_level(logging.ERROR, logger="apps.datasets.processing"):
        dataset = upload(make_zip(tmp_path / "up.zip", class_folder_files({"cat": 5, "dog": 5})).read_bytes())

    assert dataset.status == "failed"
    assert dataset.error.startswith("Something went wrong on NASweb's side") and "RuntimeError" not in dataset.error
    assert "a bug in the findings" in caplog.text
