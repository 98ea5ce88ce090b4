"""A run may train at another image side than ingestion chose: the worker decodes the upload again, once."""

import pytest
import torch
from django.core.files.storage import default_storage

from apps.datasets.images import decode_image
from apps.datasets.processing import dataset_training_load
from apps.nas.preprocess import preprocess_image

from .conftest import class_folder_files, make_zip, write_files

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def logged_in(api_client, alice):
    api_client.force_login(alice)


def test_another_side_is_decoded_from_the_originals_and_kept_for_later_runs(upload, tmp_path):
    files = class_folder_files({"cat": 6, "dog": 6}, size=(40, 40))
    dataset = upload(make_zip(tmp_path / "pets.zip", files).read_bytes())
    assert dataset.stats["resolution"] == 40 and 16 in dataset.training_sides()

    (tmp_path / "first").mkdir()
    smaller = dataset_training_load(dataset, tmp_path / "first", 16)
    ingested = dataset_training_load(dataset, tmp_path / "first", None)

    assert smaller.images.shape == (12, 3, 16, 16) and ingested.images.shape == (12, 3, 40, 40)
    assert smaller.class_names == ingested.class_names and torch.equal(smaller.labels, ingested.labels)
    # Exactly what the exported model's preprocessing makes of the same file at 16 px.
    originals = write_files(tmp_path / "originals", files)
    expected = preprocess_image(decode_image(originals / smaller.paths[0]), 16, 3)
    assert torch.equal(smaller.images[0], torch.tensor(expected))
    assert default_storage.exists(f"{dataset.storage_prefix}/training-16.npz")

    default_storage.delete(dataset.archive)  # a later run needs only the kept copy
    (tmp_path / "second").mkdir()
    assert torch.equal(dataset_training_load(dataset, tmp_path / "second", 16).images, smaller.images)
