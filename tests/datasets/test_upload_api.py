import io
import zipfile
import zlib

import pytest
from django.core.files.storage import default_storage

from apps.datasets.models import Dataset

from .conftest import class_folder_files, image_bytes, make_tar, write_raw_zip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_configurations]


@pytest.fixture(autouse=True)
def logged_in(api_client, alice):
    api_client.force_login(alice)


def pets(per_class=12, classes=("cat", "dog")) -> dict[str, bytes]:
    return class_folder_files(dict.fromkeys(classes, per_class), prefix="pets/")


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def finding_codes(dataset_json: dict) -> set[str]:
    return {finding["code"] for finding in dataset_json["findings"]}


def test_a_zip_of_class_folders_becomes_a_ready_dataset(api_client, upload):
    dataset = upload(zip_of(pets(per_class=12)))

    body = api_client.get(f"/api/datasets/{dataset.pk}/").json()
    assert body["status"] == "ready", body
    assert body["num_images"] == 24
    assert sorted((c["name"], c["count"]) for c in body["classes"]) == [("cat", 12), ("dog", 12)]
    assert all(set(f) >= {"severity", "code", "message"} for f in body["findings"])
    assert default_storage.exists(dataset.training_file)
    assert dataset.images.count() == 24


def test_a_tar_gz_works_the_same(upload, tmp_path):
    dataset = upload(make_tar(tmp_path / "pets.tar.gz", pets(per_class=8)).read_bytes(), name="pets.tar.gz")

    assert dataset.status == "ready" and dataset.num_images == 16


def test_a_labels_csv_names_the_classes(upload):
    members = {f"img/{i}.png": image_bytes(seed=i) for i in range(16)}
    members["labels.csv"] = ("filename,label,photographer\n" + "".join(
        f"img/{i}.png,{'round' if i % 2 else 'square'},ann\n" for i in range(16))).encode()

    dataset = upload(zip_of(members))

    assert dataset.status == "ready"
    assert sorted(c["name"] for c in dataset.classes) == ["round", "square"]


def test_a_single_class_cannot_train_and_says_why(api_client, upload):
    dataset = upload(zip_of(pets(classes=("cat",), per_class=10)))

    body = api_client.get(f"/api/datasets/{dataset.pk}/").json()
    assert body["status"] == "failed"
    assert "single_class" in finding_codes(body)
    assert body["error"]


@pytest.mark.parametrize("hostile_name", ["../escaped.png", "/etc/escaped.png", "pets/../../escaped.png"])
def test_zip_slip_is_refused_and_nothing_else_is_touched(api_client, upload, hostile_name, tmp_path):
    good = upload(zip_of(pets()), dataset_name="Good")
    members = {**pets(), hostile_name: image_bytes(seed=7)}

    bad = upload(zip_of(members), dataset_name="Hostile")

    assert bad.status == "failed" and bad.error
    assert api_client.get(f"/api/datasets/{good.pk}/").json()["status"] == "ready"
    assert Dataset.objects.get(pk=good.pk).images.count() == 24


def test_an_empty_or_truncated_archive_gets_a_clear_message(upload):
    full = zip_of(pets())

    empty = upload(zip_of({}), dataset_name="Empty")
    truncated = upload(full[: len(full) // 2], dataset_name="Truncated")
    not_an_archive = upload(b"just some text, not an archive" * 10, name="notes.zip", dataset_name="Text")

    for dataset in (empty, truncated, not_an_archive):
        assert dataset.status == "failed"
        assert len(dataset.error) > 20, dataset.error


def test_a_zip_bomb_is_refused(upload):
    buffer = io.BytesIO()
    with (zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
          archive.open("pets/cat/huge.png", "w", force_zip64=True) as member):
        zeros = bytes(1024 * 1024)
        for _ in range(2048):  # 2 GB of zeros, about 2 MB compressed
            member.write(zeros)

    dataset = upload(buffer.getvalue(), dataset_name="Bomb")

    assert dataset.status == "failed" and dataset.error


def test_resumable_upload_continues_after_an_interruption(api_client, drain):
    data = zip_of(pets())
    started = api_client.post("/api/datasets/uploads/", {"name": "Chunked", "size": len(data)}, format="json")
    assert started.status_code == 201 and started.json()["status"] == "uploading"
    url = f"/api/datasets/{started.json()['id']}/upload/"

    def put(start, end):
        return api_client.put(url, data[start:end], content_type="application/octet-stream",
                              HTTP_CONTENT_RANGE=f"bytes {start}-{end - 1}/{len(data)}")

    half = len(data) // 2
    assert put(0, 1000).json()["received"] == 1000
    skipped_ahead = put(half, len(data))
    assert skipped_ahead.status_code == 409 and skipped_ahead.json()["received"] == 1000
    assert api_client.get(url).json() == {"received": 1000, "size": len(data), "status": "uploading"}
    assert put(1000, len(data)).json()["status"] == "ingesting"
    drain()

    assert api_client.get(f"/api/datasets/{started.json()['id']}/").json()["status"] == "ready"


def test_more_bytes_than_announced_are_refused(api_client):
    started = api_client.post("/api/datasets/uploads/", {"name": "Liar", "size": 10}, format="json").json()

    response = api_client.put(f"/api/datasets/{started['id']}/upload/", b"x" * 50,
                              content_type="application/octet-stream", HTTP_CONTENT_RANGE="bytes 0-49/50")

    assert response.status_code == 400
    assert Dataset.objects.get(pk=started["id"]).upload_received == 0


def test_an_upload_over_the_limit_is_refused_up_front(api_client, settings):
    settings.NASWEB_MAX_UPLOAD_BYTES = 1000

    response = api_client.post("/api/datasets/uploads/", {"name": "Big", "size": 5000}, format="json")

    assert response.status_code == 400 and "largest upload" in response.json()["size"][0]
    assert not Dataset.objects.exists()


def test_a_cancelled_upload_is_deleted_with_its_bytes(api_client):
    started = api_client.post("/api/datasets/uploads/", {"name": "Cancelled", "size": 5000}, format="json").json()
    api_client.put(f"/api/datasets/{started['id']}/upload/", b"x" * 100, content_type="application/octet-stream",
                   HTTP_CONTENT_RANGE="bytes 0-99/5000")

    assert api_client.delete(f"/api/datasets/{started['id']}/").status_code == 204
    assert not Dataset.objects.filter(pk=started["id"]).exists()


def test_rename_and_list_with_search(api_client, upload):
    dataset = upload(zip_of(pets()), dataset_name="Pets")

    api_client.patch(f"/api/datasets/{dataset.pk}/", {"name": "Cats and dogs"}, format="json")

    assert [d["name"] for d in api_client.get("/api/datasets/?search=dogs").json()] == ["Cats and dogs"]
    assert api_client.get("/api/datasets/?search=zebras").json() == []


def test_the_gallery_pages_through_one_class(api_client, upload):
    dataset = upload(zip_of(pets(per_class=12)))

    page = api_client.get(f"/api/datasets/{dataset.pk}/images/?label=cat").json()

    assert page["count"] == 12 and {image["label"] for image in page["results"]} == {"cat"}
    thumbnail = api_client.get(page["results"][0]["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"].startswith("image/")


def decompression_bomb_png() -> bytes:
    """A tiny PNG that claims 30,000 x 30,000 pixels (900 Mpx)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(
        b"IEND", b"")


@pytest.mark.parametrize(("extra", "code"), [
    ({"pets/cat/inner.zip": zip_of({"a.png": image_bytes(seed=1)})}, "nested_archives"),
    ({"pets/dog/readme.txt": b"hello"}, "non_image_files"),
    ({"pets/cat/broken.png": image_bytes(seed=2)[:40]}, "corrupt_files"),
    ({"pets/cat/bomb.png": decompression_bomb_png()}, "corrupt_files"),
])
def test_bad_members_are_reported_and_skipped_not_fatal(api_client, upload, extra, code):
    dataset = upload(zip_of({**pets(), **extra}))

    body = api_client.get(f"/api/datasets/{dataset.pk}/").json()
    assert body["status"] == "ready" and body["num_images"] == 24
    assert code in finding_codes(body)


def test_a_labels_csv_naming_missing_files_is_reported(upload):
    members = {f"img/{i}.png": image_bytes(seed=i) for i in range(16)}
    members["labels.csv"] = ("filename,label\n" + "".join(f"img/{i}.png,{'a' if i % 2 else 'b'}\n"
                                                         for i in range(16)) + "img/ghost.png,a\n").encode()

    dataset = upload(zip_of(members))

    assert dataset.status == "ready"
    assert "labels_csv_missing_files" in {finding["code"] for finding in dataset.findings}


def test_names_in_odd_encodings_are_read(upload, tmp_path):
    members = []
    for i in range(12):
        for label in ("caf\u00e9", "na\u00efve"):
            data = image_bytes(seed=i + (100 if label[0] == "n" else 0))
            # Windows' zip tools write cp437 names without the UTF-8 flag.
            members.append((f"pets/{label}/{i}.png".encode("cp437"), data, zipfile.ZIP_STORED, len(data),
                            zlib.crc32(data)))

    dataset = upload(write_raw_zip(tmp_path / "windows.zip", members).read_bytes())

    assert dataset.status == "ready"
    assert sorted(c["name"] for c in dataset.classes) == ["caf\u00e9", "na\u00efve"]
