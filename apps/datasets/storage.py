"""A dataset's files in the storage backend (a folder, or an object store such as S3), copied a piece at a time."""

import contextlib
import shutil
from pathlib import Path

from django.core.files.storage import default_storage

COPY_CHUNK_BYTES = 1024 * 1024  # however large the file, a copy holds no more than this in memory


def storage_download(name: str, local: Path) -> None:
    """Copy a stored file to this machine's disk."""
    with default_storage.open(name, "rb") as source, open(local, "wb") as target:
        shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)


def storage_tree_delete(prefix: str) -> None:
    if not default_storage.exists(prefix):
        return
    folders, files = default_storage.listdir(prefix)
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
    for folder in folders:
        storage_tree_delete(f"{prefix}/{folder}")
    with contextlib.suppress(NotImplementedError):  # object stores have no folders to remove
        shutil.rmtree(default_storage.path(prefix), ignore_errors=True)  # the empty folders a filesystem keeps
