"""Safe extraction: ordinary archives unpack; hostile or broken ones are refused whole, with a plain message."""

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from apps.datasets.archives import (
    ArchiveBomb,
    ArchiveError,
    ArchiveLimits,
    clean_member_name,
    detect_archive_kind,
    safe_extract,
)
from tests.datasets.conftest import (
    bzip2_tar,
    deflated_zeros,
    image_bytes,
    make_tar,
    make_zip,
    many_members_tgz,
    many_members_zip,
    write_raw_zip,
    zeros_bomb_zip,
)

REPOSITORY = Path(__file__).resolve().parents[2]


def test_a_zip_of_class_folders_unpacks(tmp_path, dest):
    png = image_bytes()
    archive = make_zip(tmp_path / "pets.zip", {"cat/a.png": png, "dog/b.png": png, "dog/": b""})

    extraction = safe_extract(archive, dest)

    assert sorted(extraction.files) == ["cat/a.png", "dog/b.png"]
    assert (dest / "cat" / "a.png").read_bytes() == png


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tars_unpack_whatever_their_compression(tmp_path, dest, mode):
    archive = make_tar(tmp_path / "pets.upload", {"cat/a.png": b"x" * 100}, mode)

    assert detect_archive_kind(archive) == "tar"
    assert safe_extract(archive, dest).files == ["cat/a.png"]


def test_the_kind_comes_from_the_content_not_the_name(tmp_path):
    disguised = make_zip(tmp_path / "photos.tar.gz", {"a.png": b"x"})
    text = tmp_path / "data.zip"
    text.write_text("just,some,csv\n")

    assert detect_archive_kind(disguised) == "zip"
    with pytest.raises(ArchiveError, match="not a zip or tar"):
        detect_archive_kind(text)


@pytest.mark.parametrize("name", ["../evil.png", "cats/../../evil.png", "/etc/evil.png", "C:/evil.png",
                                  "C:evil.png", "..\\..\\evil.png", "cats\\..\\..\\evil.png", "\\\\server\\x.png"])
def test_zip_slip_is_refused(tmp_path, dest, name):
    archive = make_zip(tmp_path / "slip.zip", {"cat/ok.png": b"fine", name: b"gotcha"})

    with pytest.raises(ArchiveError, match="nothing was extracted"):
        safe_extract(archive, dest)

    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.png").exists()


def test_tar_slip_is_refused(tmp_path, dest):
    archive = make_tar(tmp_path / "slip.tgz", {"cat/ok.png": b"fine", "../../evil.png": b"gotcha"})

    with pytest.raises(ArchiveError, match="zip-slip"):
        safe_extract(archive, dest)

    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_links_and_devices_in_a_tar_are_refused(tmp_path, dest, kind):
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w") as archive:
        archive.addfile(_tar_info("cat/ok.png", 4), io.BytesIO(b"fine"))
        link = tarfile.TarInfo("cat/passwd.png")
        link.type, link.linkname = kind, "/etc/passwd"
        archive.addfile(link)

    with pytest.raises(ArchiveError, match="link or special file"):
        safe_extract(path, dest)

    assert list(dest.iterdir()) == []


def test_a_symlink_flagged_zip_entry_is_refused(tmp_path, dest):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cat/ok.png", b"fine")
        link = zipfile.ZipInfo("cat/passwd.png")
        link.create_system, link.external_attr = 3, (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")

    with pytest.raises(ArchiveError, match="link or special file"):
        safe_extract(path, dest)

    assert list(dest.iterdir()) == []


def test_nested_archives_are_skipped_and_listed_never_opened(tmp_path, dest):
    inner_zip = make_zip(tmp_path / "inner.zip", {"a.png": b"x"}).read_bytes()
    inner_tar = make_tar(tmp_path / "inner.tgz", {"a.png": b"x"}).read_bytes()
    archive = make_zip(tmp_path / "outer.zip", {"cat/a.png": b"fine", "cat/more.zip": inner_zip,
                                                "cat/more.png": inner_tar, "cat/x.7z": b"7z\xbc\xaf\x27\x1c.."})

    extraction = safe_extract(archive, dest)

    assert extraction.files == ["cat/a.png"]
    assert [name for name, _ in extraction.skipped] == ["cat/more.zip", "cat/more.png", "cat/x.7z"]
    assert all("archive inside the archive" in reason for _, reason in extraction.skipped)


def test_system_junk_is_skipped_and_listed(tmp_path, dest):
    archive = make_zip(tmp_path / "mac.zip", {"cat/a.png": b"x", "__MACOSX/cat/._a.png": b"x",
                                              "cat/.DS_Store": b"x", "cat/Thumbs.db": b"x", ".hidden/b.png": b"x"})

    extraction = safe_extract(archive, dest)

    assert extraction.files == ["cat/a.png"]
    assert len(extraction.skipped) == 4
    assert sorted(p.name for p in dest.rglob("*")) == ["a.png", "cat"]


def test_an_empty_archive_is_refused(tmp_path, dest):
    with pytest.raises(ArchiveError, match="empty"):
        safe_extract(make_zip(tmp_path / "empty.zip", {}), dest)
    with pytest.raises(ArchiveError, match="empty"):
        safe_extract(make_tar(tmp_path / "empty.tgz", {}), dest)


@pytest.mark.parametrize("maker", [make_zip, make_tar])
def test_a_truncated_archive_is_refused_and_leaves_nothing(tmp_path, dest, maker):
    files = {f"cat/{i}.png": image_bytes((64, 64), seed=i) for i in range(6)}
    whole = maker(tmp_path / "whole", files).read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(whole[: len(whole) * 2 // 3])

    with pytest.raises(ArchiveError, match="damaged or incomplete"):
        safe_extract(cut, dest)

    assert list(dest.iterdir()) == []


def test_a_tar_cut_exactly_between_members_is_refused(tmp_path, dest):
    whole = make_tar(tmp_path / "whole.tar", {"cat/a.png": b"x" * 512, "cat/b.png": b"y" * 512}, "w").read_bytes()
    (tmp_path / "cut.tar").write_bytes(whole[:1024])  # the first header and its data, nothing after

    with pytest.raises(ArchiveError, match="end marker"):
        safe_extract(tmp_path / "cut.tar", dest)

    assert list(dest.iterdir()) == []


def test_a_corrupt_zip_member_is_refused(tmp_path, dest):
    files = {"cat/a.png": image_bytes((64, 64))}
    data = bytearray(make_zip(tmp_path / "ok.zip", files).read_bytes())
    data[60:80] = bytes(20)  # inside the first member's compressed data
    (tmp_path / "bad.zip").write_bytes(bytes(data))

    with pytest.raises(ArchiveError, match="damaged"):
        safe_extract(tmp_path / "bad.zip", dest)


def test_cp437_names_from_old_zip_tools_are_decoded(tmp_path, dest):
    name = "café/a.png".encode("cp437")  # Windows zip tools of old: cp437 bytes, no UTF-8 flag
    archive = write_raw_zip(tmp_path / "old.zip", [(name, b"x", zipfile.ZIP_STORED, 1, zlib.crc32(b"x"))])

    assert safe_extract(archive, dest).files == ["café/a.png"]


def test_invalid_bytes_and_control_characters_in_names_are_replaced(tmp_path, dest):
    path = tmp_path / "odd.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as archive:
        archive.addfile(_tar_info("cat/bad\udcff\x07.png", 1), io.BytesIO(b"x"))

    extraction = safe_extract(path, dest)

    assert extraction.files == ["cat/bad\N{REPLACEMENT CHARACTER}\N{REPLACEMENT CHARACTER}.png"]


def test_names_equal_after_normalising_do_not_overwrite_each_other(tmp_path, dest):
    decomposed, composed = "cafe\N{COMBINING ACUTE ACCENT}.png", "caf\N{LATIN SMALL LETTER E WITH ACUTE}.png"
    archive = make_zip(tmp_path / "twins.zip", {f"cat/{decomposed}": b"first", f"cat/{composed}": b"second",
                                                "cat/x.png": b"file", "cat/x.png/y.png": b"inside a file"})

    extraction = safe_extract(archive, dest)

    assert extraction.files == [f"cat/{composed}", "cat/x.png"]
    assert (dest / "cat" / composed).read_bytes() == b"first"
    assert [reason.startswith("same name") for _, reason in extraction.skipped] == [True, True]


def test_names_too_long_for_the_file_system_are_skipped_and_listed(tmp_path, dest):
    archive = make_zip(tmp_path / "long.zip", {"cat/" + "é" * 200 + ".png": b"x", "cat/ok.png": b"x"})

    extraction = safe_extract(archive, dest)

    assert extraction.files == ["cat/ok.png"]
    assert "too long" in extraction.skipped[0][1]


def test_clean_member_name_keeps_ordinary_names_and_uses_backslashes_as_separators():
    assert clean_member_name("./cats//tabby\\01.png") == "cats/tabby/01.png"
    assert clean_member_name("Ünïcödé/ok.png") == "Ünïcödé/ok.png"


def test_a_password_protected_zip_is_refused_with_advice(tmp_path, dest):
    data = bytearray(make_zip(tmp_path / "p.zip", {"a.png": b"x"}).read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)
        data[at + flag_at] |= 1
    (tmp_path / "locked.zip").write_bytes(bytes(data))

    with pytest.raises(ArchiveError, match="password"):
        safe_extract(tmp_path / "locked.zip", dest)


def test_limits_on_members_and_sizes_are_enforced(tmp_path, dest):
    archive = make_zip(tmp_path / "a.zip", {f"cat/{i}.png": b"x" * 1000 for i in range(5)})

    with pytest.raises(ArchiveError, match="more than 4 files"):
        safe_extract(archive, dest, ArchiveLimits(max_members=4))
    with pytest.raises(ArchiveError, match="larger than"):
        safe_extract(archive, dest, ArchiveLimits(max_member_bytes=999))
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        safe_extract(archive, dest, ArchiveLimits(max_total_bytes=4999))
    assert list(dest.iterdir()) == []


def test_a_tar_member_count_past_the_limit_is_refused(tmp_path, dest):
    archive = make_tar(tmp_path / "many.tgz", {f"cat/{i}.png": b"x" for i in range(50)})

    with pytest.raises(ArchiveError, match="more than 20 files"):
        safe_extract(archive, dest, ArchiveLimits(max_members=20))

    assert list(dest.iterdir()) == []


def test_a_tar_gz_of_zeros_is_refused_while_streaming(tmp_path, dest):
    archive = make_tar(tmp_path / "zeros.tgz", {"cat/zeros.png": bytes(40 * 2**20)})

    with pytest.raises(ArchiveError, match="zip bomb"):
        safe_extract(archive, dest)

    assert list(dest.iterdir()) == []


def test_a_19_kb_tar_bz2_of_20_gb_of_zeros_is_refused_before_unpacking_them(tmp_path, dest):
    # The upload: 39 members of 512 MiB of zeros, each within the size limits; it took 70 s to refuse.
    archive = bzip2_tar(tmp_path / "zeros.tar.bz2", [(f"cat/{i}.png", 512 * 2**20) for i in range(39)])
    assert archive.stat().st_size < 30_000

    with pytest.raises(ArchiveBomb, match="zip bomb") as refused:
        safe_extract(archive, dest)

    assert refused.value.unpacked_bytes < 2**20  # refused on its first header, not after 20 GB
    assert list(dest.iterdir()) == []


def test_zeros_hidden_before_noise_that_dilutes_the_overall_ratio_are_refused_while_streaming(tmp_path, dest):
    # 300 MiB of zeros, then 2 MiB of noise: the whole archive's ratio (~150) passes, the zeros' own does not.
    noise = np.random.default_rng(0).integers(0, 256, 2 * 2**20, dtype=np.uint8).tobytes()
    archive = bzip2_tar(tmp_path / "diluted.tar.bz2", [("cat/zeros.png", 300 * 2**20), ("cat/noise.png", noise)])

    with pytest.raises(ArchiveBomb, match="zip bomb") as refused:
        safe_extract(archive, dest)

    assert refused.value.unpacked_bytes < 8 * 2**20  # a few MiB into the zeros, not the whole stream
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_zip_compressed_with_bzip2_or_lzma_is_refused_with_advice(tmp_path, dest, method):
    # zipfile decompresses every piece of such members whole (a few KB can hold gigabytes), and standard zip tools
    # write deflate: NASweb refuses them rather than risk it.
    archive = make_zip(tmp_path / "odd.zip", {"cat/a.png": image_bytes()}, compression=method)

    with pytest.raises(ArchiveError, match="deflate"):
        safe_extract(archive, dest)


def test_small_blank_images_that_compress_enormously_are_not_mistaken_for_bombs(tmp_path, dest):
    blank = image_bytes((300, 300), mode="RGB", fmt="BMP", seed=0)[:54] + bytes(300 * 300 * 3)

    assert safe_extract(make_zip(tmp_path / "blank.zip", {"cat/blank.bmp": blank}), dest).files == ["cat/blank.bmp"]


def test_an_oversized_pax_header_is_refused(tmp_path, dest):
    path = tmp_path / "pax.tgz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        info = _tar_info("cat/a.png", 1)
        info.pax_headers = {"comment": "x" * (2 * 2**20)}
        archive.addfile(info, io.BytesIO(b"x"))

    with pytest.raises(ArchiveError, match="damaged"):
        safe_extract(path, dest)


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


# ---- bombs, each in a fresh process so its peak memory is its own ----

BOMB_PROBE = """
import json, resource, sys, time
from apps.datasets.archives import ArchiveError, safe_extract
start = time.monotonic()
try:
    safe_extract(sys.argv[1], sys.argv[2])
    outcome = "extracted"
except ArchiveError as error:
    outcome = str(error)
print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


# Linux carries a process's peak RSS over fork and exec, so a probe started by pytest (hundreds of MB with
# torch loaded) would report pytest's peak: a small launcher process starts the probe instead.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, *sys.argv[1:]]).returncode)"


def refuse_in_subprocess(archive: Path, dest: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", LAUNCHER, "-c", BOMB_PROBE, str(archive), str(dest)],
                            cwd=REPOSITORY, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": "."})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def million_members_zip(tmp_path_factory) -> Path:
    return many_members_zip(tmp_path_factory.mktemp("bombs") / "million.zip", 1_000_000)


def test_a_10_gb_zip_of_zeros_is_refused_fast_in_little_memory(tmp_path, dest):
    report = refuse_in_subprocess(zeros_bomb_zip(tmp_path / "10gb.zip", 1, 10 * 2**30), dest)

    assert "larger than" in report["outcome"]
    assert report["seconds"] < 5 and report["peak_mb"] < 512
    assert list(dest.iterdir()) == []


def test_a_42_zip_like_high_ratio_archive_is_refused_fast_in_little_memory(tmp_path, dest):
    # 16 members of 500 MB of zeros: every member and the total are under the size limits; only the ratio is not.
    report = refuse_in_subprocess(zeros_bomb_zip(tmp_path / "ratio.zip", 16, 500 * 2**20), dest)

    assert "zip bomb" in report["outcome"]
    assert report["seconds"] < 5 and report["peak_mb"] < 512


def test_a_million_tiny_members_are_refused_fast_in_little_memory(million_members_zip, dest):
    report = refuse_in_subprocess(million_members_zip, dest)

    assert "more than 200,000 files" in report["outcome"]
    assert report["seconds"] < 5 and report["peak_mb"] < 512


def test_a_tar_gz_of_a_million_tiny_members_is_refused_fast_in_little_memory(tmp_path, dest):
    report = refuse_in_subprocess(many_members_tgz(tmp_path / "million.tgz", 1_000_000), dest)

    assert "more than 200,000 files" in report["outcome"]
    assert report["seconds"] < 5 and report["peak_mb"] < 512


def test_a_million_members_behind_a_lying_entry_count_are_refused_fast(million_members_zip, tmp_path, dest):
    data = bytearray(million_members_zip.read_bytes())
    record = data.rindex(b"PK\x06\x06")
    data[record + 24:record + 40] = (10).to_bytes(8, "little") * 2  # "10 entries", the directory still holds 1M
    (tmp_path / "liar.zip").write_bytes(bytes(data))

    report = refuse_in_subprocess(tmp_path / "liar.zip", dest)

    assert "more than 200,000 files" in report["outcome"]
    assert report["seconds"] < 5 and report["peak_mb"] < 512


def test_a_zip_whose_header_understates_the_size_is_refused(tmp_path, dest):
    archive = write_raw_zip(tmp_path / "liar.zip", [("cat/a.png", deflated_zeros(3 * 2**20), 8, 1000, 0)])

    with pytest.raises(ArchiveError):
        safe_extract(archive, dest)

    assert list(dest.iterdir()) == []
