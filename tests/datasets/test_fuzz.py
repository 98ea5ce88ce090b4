"""Property and fuzz tests: no member name escapes the folder; random and mutated input never crashes or hangs."""

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from apps.datasets.archives import ArchiveError, clean_member_name, safe_extract
from apps.datasets.images import ImageProblem, open_image
from apps.datasets.ingestion import ingest_archive
from tests.datasets.conftest import class_folder_files, image_bytes, make_zip

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Pieces hostile names are made of: traversal, separators of both kinds, drive letters, odd characters.
PIECES = st.sampled_from(["..", ".", "", "/", "\\", "C:", "c:\\", "~", "evil", "a", "\x00", "\x1b", "\u202e",
                          "e\u0301", "\xe9", "\ufeff", " ", "%2e%2e", "..\\..", "//server/share", "$HOME"])
NAMES = st.lists(st.one_of(PIECES, st.text(max_size=6)), min_size=1, max_size=8).map("".join)


def every_path_under(folder: Path) -> list[Path]:
    return list(folder.rglob("*"))


def inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore:Duplicate name")
@FUZZ
@given(names=st.lists(NAMES, min_size=1, max_size=5), as_tar=st.booleans())
def test_no_member_name_can_land_outside_the_folder(tmp_path_factory, names, as_tar):
    base = tmp_path_factory.mktemp("slip")
    dest = base / "box" / "dest"
    archive = base / "upload"
    try:
        if as_tar:
            with tarfile.open(archive, "w") as tar:
                for name in names:
                    info = tarfile.TarInfo(name)
                    info.size = 4
                    tar.addfile(info, io.BytesIO(b"data"))
        else:
            with zipfile.ZipFile(archive, "w") as zipped:
                for name in names:
                    zipped.writestr(zipfile.ZipInfo(name), b"data")
    except (ValueError, OSError, UnicodeError):
        assume(False)  # the library refused to even write such a name

    try:
        extraction = safe_extract(archive, dest)
    except ArchiveError:
        assert every_path_under(dest) == []
        extraction = None

    outside = [p for p in every_path_under(base) if p != archive and not inside(p, dest) and p != dest.parent
               and p != dest]
    assert outside == []
    for name in extraction.files if extraction else []:
        assert inside(dest / name, dest) and (dest / name).is_file()


@settings(max_examples=500)
@given(name=st.one_of(NAMES, st.text()))
def test_a_cleaned_member_name_is_always_relative_and_never_climbs(name):
    try:
        cleaned = clean_member_name(name)
    except ArchiveError:
        return
    assert not cleaned.startswith("/") and "\\" not in cleaned and ".." not in cleaned.split("/")
    assert cleaned == "" or PurePosixPath(cleaned).parts == tuple(cleaned.split("/"))


def valid_archives() -> list[bytes]:
    scratch = Path(tempfile.mkdtemp())
    files = class_folder_files({"cat": 2, "dog": 2}, size=(16, 16))
    zipped = make_zip(scratch / "a.zip", files).read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return [zipped, buffer.getvalue()]


SEEDS = valid_archives()
IMAGES = [image_bytes((16, 16), fmt=fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP")]


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    mutated = bytearray(data)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    return bytes(mutated[:cut] if cut is not None else mutated)


EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=12)
CUTS = st.one_of(st.none(), st.integers(0, 4000))


@pytest.mark.timeout(120)
@FUZZ
@given(seed=st.sampled_from(SEEDS), edits=EDITS, cut=CUTS)
def test_mutated_archives_are_ingested_or_refused_never_crash(tmp_path_factory, seed, edits, cut):
    base = tmp_path_factory.mktemp("mutated")
    (base / "upload").write_bytes(mutate(seed, edits, cut))

    try:
        result = ingest_archive(base / "upload", base / "work", base / "out")
    except ArchiveError:
        assert every_path_under(base / "work") == []
        return
    assert all(inside(base / "work" / r.path, base / "work") for r in result.records)


@pytest.mark.timeout(60)
@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes_are_refused_as_archives_and_as_images(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("random") / "upload"
    path.write_bytes(data)

    with pytest.raises(ArchiveError):
        safe_extract(path, path.parent / "dest")
    with pytest.raises(ImageProblem):
        open_image(path)


@pytest.mark.timeout(60)
@FUZZ
@given(seed=st.sampled_from(IMAGES), edits=EDITS, cut=CUTS)
def test_mutated_images_open_or_give_a_problem_never_crash(tmp_path_factory, seed, edits, cut):
    path = tmp_path_factory.mktemp("image") / "picture"
    path.write_bytes(mutate(seed, edits, cut))

    try:
        image = open_image(path)
    except ImageProblem:
        return
    assert image.mode in ("L", "RGB")
