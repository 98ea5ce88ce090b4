"""Factories for the uploads users send: images, folders of class folders, zips and tars, hostile or not."""

import bz2
import functools
import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def image_bytes(size: tuple[int, int] = (24, 24), mode: str = "RGB", fmt: str = "PNG", seed: int = 0) -> bytes:
    """A small noisy image (distinct per seed) in `mode`, encoded as `fmt`."""
    generator = np.random.default_rng(seed)
    width, height = size
    if mode == "I;16":
        image = Image.fromarray(generator.integers(0, 65536, (height, width), dtype=np.uint16))
    else:
        channels = {"L": 1, "1": 1, "LA": 2, "RGBA": 4}.get(mode, 3)
        pixels = generator.integers(0, 256, (height, width, channels), dtype=np.uint8)
        image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    """Write {relative path: content} under root."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def class_folder_files(classes: dict[str, int], prefix: str = "", size: tuple[int, int] = (24, 24)) -> dict:
    """{prefix + class/img_n.png: distinct PNG} for each class and count."""
    files, seed = {}, 0
    for name, count in classes.items():
        for index in range(count):
            files[f"{prefix}{name}/img_{index}.png"] = image_bytes(size, seed=seed)
            seed += 1
    return files


def make_zip(path: Path, files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip holding {member name: content}, names written as given (hostile ones included)."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=compression)
    return path


def make_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    """A tar (gzip by default) holding {member name: content}."""
    with tarfile.open(path, mode) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "extracted"


def _zip64_extra(*values: int) -> bytes:
    return struct.pack("<HH", 1, 8 * len(values)) + struct.pack(f"<{len(values)}Q", *values)


def write_raw_zip(path: Path, members: list[tuple[str | bytes, bytes, int, int, int]]) -> Path:
    """A zip64 file from (name, data, method, uncompressed size, crc) written byte by byte: lets tests build
    bombs (10 GB members, a million entries) in well under a second. Names given as bytes are written as they
    are, without the UTF-8 flag (so readers decode them as cp437)."""
    central, offset = [], 0
    with open(path, "wb") as out:
        for name, data, method, size, crc in members:
            encoded = name if isinstance(name, bytes) else name.encode()
            extra = _zip64_extra(size, len(data))
            flags = 0 if isinstance(name, bytes) else 0x800
            header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, flags, method, 0, 0x21, crc, 0xFFFFFFFF,
                                 0xFFFFFFFF, len(encoded), len(extra))
            out.write(header + encoded + extra)
            out.write(data)
            extra = _zip64_extra(size, len(data), offset)
            central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, flags, method, 0, 0x21, crc,
                                       0xFFFFFFFF, 0xFFFFFFFF, len(encoded), len(extra), 0, 0, 0, 0, 0xFFFFFFFF)
                           + encoded + extra)
            offset += len(header) + len(encoded) + len(extra) - 8 + len(data)
        directory = b"".join(central)
        out.write(directory)
        record_at = offset + len(directory)
        out.write(struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, len(members), len(members),
                              len(directory), offset))
        out.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, record_at, 1))
        out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    return path


def deflated_zeros(total_bytes: int) -> bytes:
    """A raw deflate stream of `total_bytes` zeros, built from one repeated independent 1 MiB block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (total_bytes >> 20) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def zeros_bomb_zip(path: Path, members: int, member_bytes: int) -> Path:
    """A zip of `members` members of `member_bytes` zeros each (declared honestly; CRC left wrong)."""
    data = deflated_zeros(member_bytes)
    return write_raw_zip(path, [(f"zeros_{i}.png", data, zipfile.ZIP_DEFLATED, member_bytes, 0)
                                for i in range(members)])


def many_members_zip(path: Path, count: int) -> Path:
    """A zip of `count` empty stored members of one name, laid out like write_raw_zip's but built in bulk."""
    write_raw_zip(path, [("tiny.png", b"", zipfile.ZIP_STORED, 0, 0)])
    one = path.read_bytes()
    local_end = one.index(b"PK\x01\x02")
    directory_end = one.index(b"PK\x06\x06")
    local, entry = one[:local_end], one[local_end:directory_end - 8]  # entry minus its offset field
    offsets = struct.Struct("<Q")
    directory = b"".join(entry + offsets.pack(i * len(local)) for i in range(count))
    start = len(local) * count
    with open(path, "wb") as out:
        out.write(local * count)
        out.write(directory)
        out.write(struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory),
                              start))
        out.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, start + len(directory), 1))
        out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    return path


ZEROS_STREAM_BYTES = 64 * 2**20


@functools.cache
def _bzip2_zeros() -> bytes:
    return bz2.compress(bytes(ZEROS_STREAM_BYTES))  # 79 bytes


def bzip2_tar(path: Path, members: list[tuple[str, int | bytes]]) -> Path:
    """A .tar.bz2 of members given as content, or as a number of zero bytes. Written as concatenated bzip2 streams
    (which readers join), one per 64 MiB of zeros compressed once: gigabytes of zeros take milliseconds."""
    with open(path, "wb") as out:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = content if isinstance(content, int) else len(content)
            out.write(bz2.compress(info.tobuf(tarfile.USTAR_FORMAT)))
            if isinstance(content, int):
                out.write(_bzip2_zeros() * (content // ZEROS_STREAM_BYTES))
                content = bytes(content % ZEROS_STREAM_BYTES)
            out.write(bz2.compress(content + bytes(-info.size % 512)))
        out.write(bz2.compress(bytes(1024)))
    return path


def many_members_tgz(path: Path, count: int) -> Path:
    """A tar.gz of `count` empty members (the same header repeated: only the count matters)."""
    header = tarfile.TarInfo("tiny.png").tobuf(tarfile.USTAR_FORMAT)
    with gzip.open(path, "wb", compresslevel=1) as out:
        for start in range(0, count, 2048):
            out.write(header * min(2048, count - start))
        out.write(bytes(1024))
    return path


def zip_bytes(files: dict[str, bytes], tmp_path: Path) -> bytes:
    return make_zip(tmp_path / "upload.zip", files).read_bytes()


@pytest.fixture
def upload(api_client, drain):
    """Upload an archive through the API as the logged-in user and wait for its ingestion."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.datasets.models import Dataset

    def send(data: bytes, name="pets.zip", dataset_name="Pets") -> Dataset:
        file = SimpleUploadedFile(name, data, content_type="application/octet-stream")
        response = api_client.post("/api/datasets/", {"file": file, "name": dataset_name}, format="multipart")
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "ingesting"
        drain()
        return Dataset.objects.get(pk=response.json()["id"])

    return send
