"""What ingestion keeps of each readable image: read by the checks (findings.py), written by the pipeline."""

from dataclasses import dataclass


@dataclass
class ImageRecord:
    """One readable image of the dataset, as decoded once."""

    path: str  # relative to the uploaded root
    label: str
    width: int  # after EXIF rotation
    height: int
    channels: int  # 1 (grey) or 3 (colour), after flattening transparency
    sha256: str  # of the file's bytes
    phash: int  # 64-bit difference hash (images.difference_hash)
    thumbnail: str  # relative to the out_dir of ingest_archive
