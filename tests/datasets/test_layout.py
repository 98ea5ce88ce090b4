"""Reading what an upload means: class folders or a labels.csv, and plain findings about what does not fit."""

from apps.datasets.layout import IMAGE_CLASSIFICATION, find_labelled_images
from tests.datasets.conftest import class_folder_files, image_bytes, write_files


def codes(found) -> dict[str, str]:
    return {finding.code: finding.severity for finding in found.findings}


def test_class_folders_give_one_label_per_folder(tmp_path):
    write_files(tmp_path, class_folder_files({"cat": 2, "dog": 1}))

    found = find_labelled_images(tmp_path)

    assert found.task == IMAGE_CLASSIFICATION
    assert found.class_names == ["cat", "dog"]
    assert found.items == [("cat/img_0.png", "cat"), ("cat/img_1.png", "cat"), ("dog/img_0.png", "dog")]
    assert found.findings == []


def test_one_wrapping_folder_is_looked_through(tmp_path):
    write_files(tmp_path, class_folder_files({"cat": 1, "dog": 1}, prefix="mydata/"))

    found = find_labelled_images(tmp_path)

    assert found.root == "mydata"
    assert found.items == [("mydata/cat/img_0.png", "cat"), ("mydata/dog/img_0.png", "dog")]


def test_images_in_sub_folders_of_a_class_belong_to_it(tmp_path):
    write_files(tmp_path, {"cat/indoor/a.png": b"x", "cat/outdoor/b.png": b"x", "dog/c.png": b"x"})

    assert [label for _, label in find_labelled_images(tmp_path).items] == ["cat", "cat", "dog"]


def test_non_image_files_are_skipped_and_reported(tmp_path):
    write_files(tmp_path, {"cat/a.png": b"x", "cat/notes.txt": b"x", "dog/b.jpg": b"x", "README.md": b"x"})

    found = find_labelled_images(tmp_path)

    assert [path for path, _ in found.items] == ["cat/a.png", "dog/b.jpg"]
    assert codes(found) == {"non_image_files": "info"}
    assert found.findings[0].details["files"] == ["cat/notes.txt", "README.md"]


def test_loose_images_beside_class_folders_are_reported(tmp_path):
    write_files(tmp_path, {"cat/a.png": b"x", "dog/b.png": b"x", "stray.png": b"x"})

    assert codes(find_labelled_images(tmp_path)) == {"images_outside_classes": "info"}


def test_a_folder_without_class_folders_is_an_error_that_explains_the_layout(tmp_path):
    write_files(tmp_path, {"a.png": b"x", "b.png": b"x"})

    found = find_labelled_images(tmp_path)

    assert found.items == []
    assert codes(found) == {"no_class_folders": "error"}
    assert "cats/ and dogs/" in found.findings[0].message


def test_a_labels_csv_with_a_header_labels_the_images(tmp_path):
    write_files(tmp_path, {"a.png": b"x", "b.png": b"x", "labels.csv": b"filename,label\na.png,cat\nb.png,dog\n"})

    found = find_labelled_images(tmp_path)

    assert found.items == [("a.png", "cat"), ("b.png", "dog")]
    assert found.class_names == ["cat", "dog"]
    assert found.findings == []


def test_a_labels_csv_without_header_and_with_folders_in_a_wrapper_works(tmp_path):
    write_files(tmp_path, {"data/images/a.png": b"x", "data/images/b.png": b"x",
                           "data/labels.csv": b"images/a.png,cat\r\nb.png,dog\r\n"})

    found = find_labelled_images(tmp_path)

    assert found.items == [("data/images/a.png", "cat"), ("data/images/b.png", "dog")]


def test_a_csv_of_ids_without_extensions_finds_the_files(tmp_path):
    write_files(tmp_path, {"train/0001.jpg": b"x", "train/0002.png": b"x",
                           "labels.csv": b"id,label\n0001,cat\n2,dog\n"})

    found = find_labelled_images(tmp_path)

    assert found.items == [("train/0001.jpg", "cat")]
    assert codes(found) == {"labels_csv_missing_files": "warning", "labels_csv_unlabelled_files": "info"}


def test_extra_columns_are_ignored_with_a_note(tmp_path):
    write_files(tmp_path, {"a.png": b"x", "labels.csv": b"id;notes;class;source\na.png;blurry;cat;web\n"})

    found = find_labelled_images(tmp_path)

    assert found.items == [("a.png", "cat")]
    assert codes(found) == {"labels_csv_extra_columns": "info"}


def test_rows_naming_missing_files_give_one_warning_listing_a_few(tmp_path):
    rows = "".join(f"gone_{i}.png,cat\n" for i in range(30))
    write_files(tmp_path, {"a.png": b"x", "labels.csv": f"a.png,cat\n{rows}".encode()})

    found = find_labelled_images(tmp_path)
    missing = [f for f in found.findings if f.code == "labels_csv_missing_files"]

    assert len(missing) == 1 and missing[0].severity == "warning"
    assert missing[0].details["count"] == 30 and len(missing[0].details["files"]) == 20
    assert "'gone_0.png'" in missing[0].message


def test_images_the_csv_does_not_mention_are_reported(tmp_path):
    write_files(tmp_path, {"a.png": b"x", "b.png": b"x", "labels.csv": b"a.png,cat\n"})

    found = find_labelled_images(tmp_path)

    assert codes(found) == {"labels_csv_unlabelled_files": "info"}
    assert found.findings[0].details["files"] == ["b.png"]


def test_a_csv_naming_no_uploaded_image_is_an_error(tmp_path):
    write_files(tmp_path, {"a.png": b"x", "labels.csv": b"file,label\nnope.png,cat\n,\n"})

    assert codes(find_labelled_images(tmp_path)) == {"labels_csv_empty": "error", "labels_csv_missing_files":
                                                     "warning", "labels_csv_unlabelled_files": "info"}


def test_a_csv_cannot_reach_outside_the_upload(tmp_path):
    (tmp_path / "secret.png").write_bytes(image_bytes())
    write_files(tmp_path / "up", {"a.png": b"x", "labels.csv": b"../secret.png,cat\n/etc/passwd,dog\na.png,cat\n"})

    assert find_labelled_images(tmp_path / "up").items == [("a.png", "cat")]


def test_a_windows_excel_csv_with_accents_is_read(tmp_path):
    write_files(tmp_path, {"a.png": b"x", "labels.csv": "a.png,café\n".encode("cp1252")})

    assert find_labelled_images(tmp_path).items == [("a.png", "café")]
