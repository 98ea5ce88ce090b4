"""Safe extraction of uploaded zip and tar (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz) archives.

An archive is refused whole (ArchiveError, dest left empty) when it is hostile or broken: paths that escape the
folder, links or devices, sizes or compression ratios past the limits, a corrupt or empty archive. Harmless
oddities are skipped and listed instead: nested archives, system junk, names that clash after normalising.
"""

import bz2
import gzip
import lzma
import mmap
import os
import re
import shutil
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

CHUNK_BYTES = 1 << 20  # members are copied 1 MiB at a time, never read whole
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "__macosx"}
# First bytes of formats we never open inside an archive; tar is recognised by "ustar" at offset 257.
NESTED_ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c",
                        b"Rar!\x1a\x07", b"\x28\xb5\x2f\xfd")
DECOMPRESSORS = {b"\x1f\x8b": lambda file: gzip.GzipFile(fileobj=file, mode="rb"), b"BZh": bz2.BZ2File,
                 b"\xfd7zXZ\x00": lzma.LZMAFile}
TAR_COMPRESSION_MAGIC = tuple(DECOMPRESSORS)
MAX_TAR_HEADER_BYTES = 1 << 20  # extended (pax, GNU long name) headers hold names and metadata, never data
EXTENDED_HEADER_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                         tarfile.SOLARIS_XHDTYPE)
MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 3000  # Linux allows 255 per name and 4096 per path, dest's own path included
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
EMPTY = "The archive is empty. Add your image folders to it and upload it again."
REDO = "Please re-create the archive from your folder with a standard zip tool and upload it again."


@dataclass(frozen=True)
class ArchiveLimits:
    """What an upload may expand to; past any of these the archive is refused as a possible bomb."""

    max_members: int = 200_000
    max_total_bytes: int = 20 * 2**30
    max_member_bytes: int = 512 * 2**20
    max_ratio: float = 200.0  # uncompressed / compressed bytes, per member and overall (zip bombs)
    # Ratios are only judged past this many output bytes: a small blank image can legitimately compress 1000:1,
    # and what makes a bomb dangerous is a large output.
    ratio_floor_bytes: int = 2**20


DEFAULT_LIMITS = ArchiveLimits()


class ArchiveError(ValueError):
    """The archive was refused; the message says why in plain words and what to do."""


class ArchiveBomb(ArchiveError):
    """Refused as a decompression bomb; `unpacked_bytes` says how much was decompressed before that."""

    def __init__(self, unpacked_bytes: int) -> None:
        super().__init__("The archive unpacks to far more data than its size suggests, the signature of a "
                         "'zip bomb', so it was refused. If it really holds your images, re-create it with a "
                         "standard zip tool.")
        self.unpacked_bytes = unpacked_bytes


@dataclass
class Extraction:
    """What safe_extract wrote under dest, and what it left out and why."""

    files: list[str] = field(default_factory=list)  # relative POSIX paths written under dest
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (member name, reason)


def detect_archive_kind(path: str | Path) -> str:
    """"zip" or "tar", judged from the file's first bytes (not its name).

    Args:
        path: the uploaded file.

    Raises:
        ArchiveError: neither a zip nor a (possibly gzip/bzip2/xz-compressed) tar.
    """
    with open(path, "rb") as file:
        head = file.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head.startswith(TAR_COMPRESSION_MAGIC) or head[257:262] == b"ustar":
        return "tar"
    if not head:
        raise ArchiveError("The uploaded file is empty. Upload a zip of your image folders.")
    raise ArchiveError("This file is not a zip or tar archive. Put your class folders in a .zip (or .tar.gz) "
                       "file and upload that.")


def safe_extract(archive: Path, dest: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> Extraction:
    """Extract `archive` into the empty folder `dest`, refusing hostile or broken archives whole.

    Args:
        archive: a zip or tar file (compressed or not), recognised by content.
        dest: the folder to fill; created if missing, must be empty.
        limits: member count, sizes and compression ratio allowed.

    Raises:
        ArchiveError: the archive was refused; dest is left empty.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest} must be empty")
    writer = _Writer(dest, limits, archive.stat().st_size)
    try:
        if detect_archive_kind(archive) == "zip":
            _extract_zip(archive, writer)
        else:
            _extract_tar(archive, writer)
        if not writer.extraction.files and not writer.extraction.skipped:
            raise ArchiveError(EMPTY)
    except BaseException:
        _empty_folder(dest)
        raise
    return writer.extraction


def clean_member_name(name: str) -> str:
    """The member's path made safe to join under a folder, as relative POSIX text.

    Undecodable bytes and control characters become replacement characters, the text is NFC-normalised, and
    backslashes count as separators (Windows tools write them), so `..\\x` is caught like `../x`.

    Args:
        name: the member name as the archive library decoded it (may hold surrogate escapes).

    Raises:
        ArchiveError: an absolute path, a drive letter or a `..` component.
    """
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = CONTROL_CHARACTERS.sub("\N{REPLACEMENT CHARACTER}", unicodedata.normalize("NFC", text))
    text = text.replace("\\", "/")
    if text.startswith("/") or DRIVE_LETTER.match(text):
        raise ArchiveError(f"The archive holds a file with an absolute path ({text[:80]!r}), which could "
                           f"overwrite files outside its folder, so nothing was extracted. {REDO}")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"The archive holds a file whose path climbs out of its folder ({text[:80]!r}); "
                           f"this is a known attack (zip-slip), so nothing was extracted. {REDO}")
    return "/".join(parts)


def _skip_reason(relative: str) -> str | None:
    parts = relative.split("/")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in parts) or len(relative.encode()) > MAX_PATH_BYTES:
        return "name too long for the file system; shorten it"
    if any(part.lower() in JUNK_NAMES for part in parts):
        return "system file (not part of the data)"
    if any(part.startswith(".") for part in parts):
        return "hidden file (not part of the data)"
    return None


def _is_nested_archive(head: bytes) -> bool:
    return head.startswith(NESTED_ARCHIVE_MAGIC) or head[257:262] == b"ustar"


class _Writer:
    """Writes members under dest one chunk at a time, enforcing the limits on the bytes actually produced."""

    def __init__(self, dest: Path, limits: ArchiveLimits, archive_bytes: int) -> None:
        self.root = os.path.realpath(dest)
        self.limits = limits
        self.archive_bytes = max(archive_bytes, 1)
        self.total_bytes = 0
        self.members = 0
        self.directories: set[str] = set()
        self.files: set[str] = set()
        self.extraction = Extraction()

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _too_many(self.limits)

    def check_declared(self, name: str, size: int) -> None:
        """Refuse early on what the header claims; the real bytes are counted again while writing."""
        if size > self.limits.max_member_bytes:
            raise _too_big_member(name, self.limits)
        if self.total_bytes + size > self.limits.max_total_bytes:
            raise _too_big_total(self.limits)

    def write(self, raw_name: str, chunks: Iterator[bytes], compressed_size: int | None) -> None:
        """Copy one member; `compressed_size` (zip) feeds the member's ratio check (a tar's stream checks its own)."""
        name = clean_member_name(raw_name)
        reason = _skip_reason(name) if name else "empty name"
        first = next(chunks, b"")
        if reason is None and _is_nested_archive(first):
            reason = "archive inside the archive (not opened): extract it and add its contents instead"
        if reason is None:
            reason = self._clash(name)
        if reason is not None:
            self.extraction.skipped.append((name or raw_name, reason))
            return
        target = self._target(name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        written = 0
        with open(target, "xb") as out:
            chunk = first
            while chunk:
                written += len(chunk)
                self.total_bytes += len(chunk)
                self._check_real(name, written, compressed_size)
                out.write(chunk)
                chunk = next(chunks, b"")
        parent = PurePosixPath(name).parent
        self.directories.update(str(p) for p in (parent, *parent.parents) if str(p) != ".")
        self.files.add(name)
        self.extraction.files.append(name)

    def _clash(self, name: str) -> str | None:
        parents = {str(p) for p in PurePosixPath(name).parents if str(p) != "."}
        if name in self.files or name in self.directories or parents & self.files:
            return "same name as another file in the archive once names are normalised; kept the first one"
        return None

    def _target(self, name: str) -> str:
        target = os.path.join(self.root, *name.split("/"))
        # Nothing we write is a link, but a path is only trusted once its real location is known to be inside.
        real_parent = os.path.realpath(os.path.dirname(target))
        if os.path.commonpath([self.root, real_parent]) != self.root:
            raise ArchiveError(f"The archive tries to write outside its folder ({name[:80]!r}), so nothing was "
                               f"extracted. {REDO}")
        return target

    def _check_real(self, name: str, written: int, compressed_size: int | None) -> None:
        limits = self.limits
        if written > limits.max_member_bytes:
            raise _too_big_member(name, limits)
        if self.total_bytes > limits.max_total_bytes:
            raise _too_big_total(limits)
        if compressed_size is not None and _past_ratio(written, compressed_size, limits):
            raise ArchiveBomb(self.total_bytes)
        if _past_ratio(self.total_bytes, self.archive_bytes, limits):
            raise ArchiveBomb(self.total_bytes)


def _too_many(limits: ArchiveLimits) -> ArchiveError:
    return ArchiveError(f"The archive holds more than {limits.max_members:,} files, more than NASweb accepts in "
                        "one dataset. Upload fewer images, or split them into several datasets.")


def _too_big_member(name: str, limits: ArchiveLimits) -> ArchiveError:
    return ArchiveError(f"The file {name[:80]!r} in the archive is larger than {limits.max_member_bytes // 2**20:,} "
                        "MB once unpacked, too large to be a training image. Remove it and upload again.")


def _too_big_total(limits: ArchiveLimits) -> ArchiveError:
    return ArchiveError(f"The archive unpacks to more than {limits.max_total_bytes / 2**30:.0f} GB, more than NASweb "
                        "accepts in one dataset. Upload fewer or smaller images.")


def _past_ratio(unpacked: int, packed: int, limits: ArchiveLimits) -> bool:
    return unpacked > limits.ratio_floor_bytes and unpacked > limits.max_ratio * max(packed, 1)


def _corrupt(error: Exception) -> ArchiveError:
    return ArchiveError(f"The archive is damaged or incomplete ({error}). The upload may have been cut short: "
                        "try uploading it again, or re-create it.")


# ---- zip ----

def _zip_central_directory(path: Path) -> tuple[int, int, int]:
    """(entry count, directory bytes, directory offset) as the end record states them (zip64 aware)."""
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(max(0, size - (22 + 65535)))
        tail = file.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise ArchiveError("The zip file is damaged or incomplete (its table of contents is missing). The "
                               "upload may have been cut short: try again, or re-create the zip.")
        entries, directory_bytes, directory_offset = struct.unpack("<HII", tail[at + 10:at + 20])
        locator = tail[at - 20:at] if at >= 20 else b""
        if locator.startswith(b"PK\x06\x07"):  # zip64: the real figures live in another record
            (record_offset,) = struct.unpack("<Q", locator[8:16])
            file.seek(record_offset)
            record = file.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                entries, directory_bytes, directory_offset = struct.unpack("<QQQ", record[32:56])
    return entries, directory_bytes, directory_offset


def _count_zip_entries(path: Path, offset: int, length: int, stop_after: int) -> int:
    """Entries actually in the central directory, counted up to stop_after + 1 (the end record may lie)."""
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as view:
        at, end, count = offset, min(offset + length, len(view)), 0
        while at + 46 <= end and count <= stop_after and view[at:at + 4] == b"PK\x01\x02":
            name, extra, comment = struct.unpack_from("<HHH", view, at + 28)
            at += 46 + name + extra + comment
            count += 1
    return count


def _extract_zip(path: Path, writer: _Writer) -> None:
    limits = writer.limits
    entries, directory_bytes, directory_offset = _zip_central_directory(path)
    # zipfile loads the whole directory at once, a few hundred bytes of memory per entry: count the entries
    # ourselves first. A fixed-size entry header is 46 bytes and names rarely pass 1 KB.
    if entries > limits.max_members or directory_bytes > limits.max_members * 1024 \
            or _count_zip_entries(path, directory_offset, directory_bytes, limits.max_members) > limits.max_members:
        raise _too_many(limits)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > limits.max_members:
                raise _too_many(limits)
            declared = 0
            for info in infos:
                _check_zip_entry(info)
                writer.check_declared(info.filename, info.file_size)
                declared += info.file_size
                if _past_ratio(info.file_size, info.compress_size, limits):
                    raise ArchiveBomb(0)
            if declared > limits.max_total_bytes:
                raise _too_big_total(limits)
            if _past_ratio(declared, writer.archive_bytes, limits):
                raise ArchiveBomb(0)
            for info in infos:
                writer.count_member()
                if info.filename.endswith("/"):  # ZipInfo.is_dir() fails on an empty name
                    clean_member_name(info.filename)
                    continue
                with archive.open(info) as member:
                    writer.write(info.filename, _chunks(member), info.compress_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, struct.error) as error:
        raise _corrupt(error) from error


def _check_zip_entry(info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise ArchiveError("The zip is password-protected. Create it again without a password and upload it.")
    # zipfile bounds what deflate produces per read, but decompresses a bzip2 or LZMA piece whole: a few KB of one
    # can hold gigabytes. Standard zip tools (Windows, macOS, Info-ZIP, 7-Zip's default) write deflate.
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ArchiveError("The zip compresses its files with a method NASweb does not unpack (bzip2, LZMA or "
                           "another). Re-create it with a standard zip tool, which uses the usual 'deflate' "
                           "method, and upload it again.")
    file_type = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError(f"The zip holds a link or special file ({info.filename[:80]!r}); links can point "
                           f"outside the dataset, so nothing was extracted. {REDO} Copy the real files in "
                           "instead of links.")


# ---- tar ----

class _CountingReader:
    """A read-only file wrapper counting the compressed bytes read so far (for the running ratio check)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.count += len(data)
        return data


class _TarStream:
    """A tar's decompressed bytes, refusing a bomb as soon as they pass the ratio to the compressed bytes read.

    The decompressors of the bz2, gzip and lzma modules produce at most the bytes asked for, so memory stays at
    one read; tarfile's own stream mode decompresses each 10 KB it reads whole (10 KB of bzip2 can hold 13 GB of
    zeros). Only reads of a given size are supported: tarfile's stream mode and the header scan ask for no other.
    """

    def __init__(self, raw: BinaryIO, limits: ArchiveLimits) -> None:
        self.compressed = _CountingReader(raw)
        head = raw.read(8)
        raw.seek(0)
        decompressor = next((open_ for magic, open_ in DECOMPRESSORS.items() if head.startswith(magic)), None)
        self.stream = decompressor(self.compressed) if decompressor else self.compressed
        self.limits = limits
        self.unpacked = 0

    def read(self, size: int) -> bytes:
        data = self.stream.read(size)
        self.unpacked += len(data)
        if _past_ratio(self.unpacked, self.compressed.count, self.limits):
            raise ArchiveBomb(self.unpacked)
        return data

    def skip(self, size: int) -> None:
        """Read past `size` bytes, a chunk at a time (seeking would decompress them all before any check)."""
        while size > 0:
            chunk = self.read(min(size, CHUNK_BYTES))
            if not chunk:
                raise EOFError("it ends in the middle of a file")
            size -= len(chunk)


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses oversized pax and GNU long-name headers, which tarfile would read whole into memory."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in EXTENDED_HEADER_TYPES and self.size > MAX_TAR_HEADER_BYTES:
            raise tarfile.HeaderError(f"a {self.size:,}-byte extended header")
        return super()._proc_member(tarfile_)


def _check_tar_headers(path: Path, limits: ArchiveLimits, archive_bytes: int) -> None:
    """Count members and add up declared sizes before anything is written.

    tarfile spends ~40 us on a header and extraction far more, so a million-member bomb would take minutes to
    refuse; reading the fixed header fields directly takes ~2 us. Anything odd here is left to the real pass.
    """
    count = declared = 0
    try:
        with open(path, "rb") as raw:
            stream = _TarStream(raw, limits)
            while any(header := stream.read(512)):
                if len(header) < 512:
                    raise EOFError("it ends in the middle of a file")
                size = _tar_number(header[124:136])
                if header[156:157] in EXTENDED_HEADER_TYPES:
                    if size > MAX_TAR_HEADER_BYTES:
                        raise EOFError(f"a {size:,}-byte extended header")
                else:
                    count, declared = count + 1, declared + size
                    if count > limits.max_members:
                        raise _too_many(limits)
                    if size > limits.max_member_bytes:
                        raise _too_big_member(header[:100].rstrip(b"\0").decode("utf-8", "replace"), limits)
                    if declared > limits.max_total_bytes:
                        raise _too_big_total(limits)
                    # The sizes declared so far can only grow: refuse now rather than after decompressing them.
                    if _past_ratio(declared, archive_bytes, limits):
                        raise ArchiveBomb(stream.unpacked)
                stream.skip(-(-size // 512) * 512)
            if not header:  # a tar ends with zero blocks; running out of data first means it was cut short
                raise EOFError("it ends before its end marker")
    except EOFError as error:
        raise _corrupt(error) from error
    except (ValueError, OSError, zlib.error, lzma.LZMAError) as error:
        if isinstance(error, ArchiveError):
            raise
        return
    if count == 0:
        raise ArchiveError(EMPTY)


def _tar_number(field: bytes) -> int:
    if field[0] & 0x80:  # GNU base-256, for sizes past 8 GB
        return int.from_bytes(field[1:], "big")
    return int(field.strip(b"\0 ") or b"0", 8)


def _extract_tar(path: Path, writer: _Writer) -> None:
    _check_tar_headers(path, writer.limits, writer.archive_bytes)
    try:
        # Stream mode, uncompressed (_TarStream decompresses): members are read in order, once, without seeking or
        # loading the whole index.
        with open(path, "rb") as raw, \
                tarfile.open(fileobj=_TarStream(raw, writer.limits), mode="r|",  # type: ignore[arg-type]
                             tarinfo=_BoundedTarInfo) as archive:
            while (member := archive.next()) is not None:
                archive.members.clear()  # the stream needs no index; keeping it costs memory per member
                writer.count_member()
                if member.isdir():
                    clean_member_name(member.name)
                    continue
                if not member.isreg():
                    raise ArchiveError(f"The archive holds a link or special file ({member.name[:80]!r}); "
                                       "links can point outside the dataset, so nothing was extracted. "
                                       "Re-create it with the real files instead of links.")
                writer.check_declared(member.name, member.size)
                writer.write(member.name, _chunks(archive.extractfile(member)), None)
    except (tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError) as error:
        if isinstance(error, OSError) and error.errno is not None:
            raise  # a real disk problem (full, permissions), not a damaged archive
        raise _corrupt(error) from error


def _chunks(file: BinaryIO | None) -> Iterator[bytes]:
    while file is not None and (chunk := file.read(CHUNK_BYTES)):
        yield chunk


def _empty_folder(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
