"""The whole ingestion of an upload, without Django: extract, find labels, decode once, check, write outputs.

Outputs under out_dir: thumbnails/<n>.jpg (longest side at most 128 px) and training.npz, the engine's own
ImageDataset (apps.nas.data) at the engine's automatic resolution, so training reads exactly what was checked, with
each image's group of copies (apps.datasets.duplicates) for the engine's split.
"""

import hashlib
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from apps.datasets.archives import DEFAULT_LIMITS, ArchiveLimits, safe_extract
from apps.datasets.duplicates import duplicate_groups
from apps.datasets.findings import MAX_LISTED, Finding, dataset_findings
from apps.datasets.images import ImageProblem, decode_image, difference_hash, flatten
from apps.datasets.layout import find_labelled_images
from apps.datasets.records import ImageRecord
from apps.nas.data import ImageDataset
from apps.nas.preprocess import automatic_side, keep_one_channel_if_grey, preprocess_image

ProgressCallback = Callable[[str, int, int], None]

THUMBNAIL_SIDE = 128
THUMBNAILS = "thumbnails"
TRAINING_FILE = "training.npz"
PROGRESS_INTERVAL = 0.25  # seconds between progress calls within a stage
SIZE_BINS = (16, 32, 64, 128, 256, 512, 1024)  # pixels, on the longest side, for the size histogram


@dataclass
class IngestionResult:
    """Everything the web layer stores about an ingested dataset."""

    task: str
    records: list[ImageRecord]
    classes: list[dict]  # [{"name", "count"}], in the training file's class order
    findings: list[Finding]
    stats: dict
    training_file: str  # relative to out_dir; "" when no image could be read
    ok: bool  # False when an "error" finding means it cannot train


def ingest_archive(archive: Path, work_dir: Path, out_dir: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS,
                   on_progress: ProgressCallback | None = None) -> IngestionResult:
    """Extract an uploaded archive safely into work_dir, then ingest it like ingest_folder.

    Args:
        archive: the uploaded zip or tar file.
        work_dir: an empty folder to extract into.
        out_dir: where thumbnails and the training file are written.
        limits: what the archive may expand to.
        on_progress: called as (stage, done, total) a few times per second at most.

    Raises:
        ArchiveError: the archive was refused (the message is for the user).
    """
    progress = _Progress(on_progress)
    progress("extracting", 0, 1)
    extraction = safe_extract(Path(archive), Path(work_dir), limits)
    progress("extracting", 1, 1)
    return _ingest(Path(work_dir), Path(out_dir), progress, _skipped_findings(extraction.skipped))


def ingest_folder(root: Path, out_dir: Path, *, on_progress: ProgressCallback | None = None) -> IngestionResult:
    """Find the labelled images under root, decode each once, write outputs and findings.

    Args:
        root: a folder of class folders, or of images with a labels.csv (one wrapping folder is looked through).
        out_dir: where thumbnails and the training file are written.
        on_progress: called as (stage, done, total) a few times per second at most.
    """
    return _ingest(Path(root), Path(out_dir), _Progress(on_progress), [])


class _Progress:
    """Forwards progress at most every PROGRESS_INTERVAL seconds, plus each stage's start and end."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.stage = ""
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if self.callback and (stage != self.stage or done >= total or now - self.last >= PROGRESS_INTERVAL):
            self.stage, self.last = stage, now
            self.callback(stage, done, total)


def training_copy(archive: Path, work_dir: Path, side: int) -> ImageDataset:
    """The training copy of an uploaded archive at another side than ingestion chose (a run's resolution).

    Decodes from the originals, as the exported model's preprocessing will, rather than resampling the stored copy.
    """
    safe_extract(Path(archive), Path(work_dir), DEFAULT_LIMITS)
    layout = find_labelled_images(Path(work_dir))
    records, arrays, unreadable = [], [], []
    for path, label in _engine_order(layout):
        try:
            raw = decode_image(Path(work_dir) / path)
            array, flat = preprocess_image(raw, side, 3), flatten(raw)
        except ImageProblem as problem:
            unreadable.append((path, str(problem)))
            continue
        arrays.append(array)
        records.append(_record(Path(work_dir), path, label, flat, thumbnail=""))  # for the groups alone
    images = np.stack(arrays) if arrays else np.empty((0, 3, side, side), dtype=np.uint8)
    return _training_dataset(records, images, layout.class_names, unreadable)


def _engine_order(layout) -> list[tuple[str, str]]:
    """(path, label) by class, then by path compared folder by folder: the order the engine loads a folder in."""
    order = {name: index for index, name in enumerate(layout.class_names)}
    return sorted(layout.items, key=lambda item: (order[item[1]], PurePosixPath(item[0]).parts))


def _ingest(root: Path, out_dir: Path, progress: _Progress, findings: list[Finding]) -> IngestionResult:
    layout = find_labelled_images(root)
    findings += layout.findings
    items = _engine_order(layout)
    unreadable: list[tuple[str, str]] = []
    readable, sizes = [], []
    for done, (path, label) in enumerate(items):
        progress("reading", done, len(items))
        try:
            sizes.append(_header_size(root / path))
            readable.append((path, label))
        except ImageProblem as problem:
            unreadable.append((path, str(problem)))
    progress("reading", len(items), len(items))
    side = automatic_side(sizes or [(0, 0)])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / THUMBNAILS).mkdir(exist_ok=True)
    records, images = _decode_all(root, out_dir, readable, side, progress, unreadable)
    progress("checking", 0, 1)
    findings += dataset_findings(records, class_names=layout.class_names, unreadable=unreadable)
    progress("checking", 1, 1)
    training_file, training_shape = "", [0, 0, side, side]
    if records:
        progress("saving", 0, 1)
        dataset = _training_dataset(records, images, layout.class_names, unreadable)
        dataset.save(out_dir / TRAINING_FILE)
        training_file, training_shape = TRAINING_FILE, list(dataset.images.shape)
        progress("saving", 1, 1)
    counts = Counter(record.label for record in records)
    return IngestionResult(
        task=layout.task, records=records, findings=findings, training_file=training_file,
        classes=[{"name": name, "count": counts[name]} for name in layout.class_names],
        stats=_stats(records, len(unreadable), training_shape),
        ok=not any(finding.severity == "error" for finding in findings),
    )


def _header_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header alone, as the engine reads it to choose the resolution."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception as error:  # any header failure means the same: unreadable, listed, not fatal
        raise ImageProblem(f"not an image or unreadable ({type(error).__name__})") from error


def _decode_all(root: Path, out_dir: Path, items: list[tuple[str, str]], side: int, progress: _Progress,
                unreadable: list[tuple[str, str]]) -> tuple[list[ImageRecord], np.ndarray]:
    """Decode each image once into its record and its training pixels; unreadable files go to `unreadable`."""
    # One process: two forked workers measured slower on the 2-core machine (4,000 28 x 28 PNGs: 3.3-6.5 s here,
    # 8.8-10.2 s with 2 processes forked from a process holding torch).
    records: list[ImageRecord] = []
    # Filled in place: memory holds one copy of the dataset, not a list of arrays plus a stacked copy.
    images = np.empty((len(items), 3, side, side), dtype=np.uint8)
    for index, (path, label) in enumerate(items):
        progress("decoding", index, len(items))
        try:
            record, array = _decode_one(root, out_dir, path, label, index, side)
        except ImageProblem as problem:
            unreadable.append((path, str(problem)))
            continue
        images[len(records)] = array
        records.append(record)
    progress("decoding", len(items), len(items))
    return records, images[:len(records)]


def _decode_one(root: Path, out_dir: Path, path: str, label: str, index: int,
                side: int) -> tuple[ImageRecord, np.ndarray]:
    raw = decode_image(root / path)
    flat = flatten(raw)
    thumbnail = f"{THUMBNAILS}/{index:06d}.jpg"
    _thumbnail(flat).save(out_dir / thumbnail, "JPEG", quality=85)
    # The engine's own steps 2-3 on the decoded original, so the training copy is exactly the engine's; step 4
    # (one channel when all are grey) needs the whole dataset, see _training_dataset.
    return _record(root, path, label, flat, thumbnail), preprocess_image(raw, side, 3)  # (3, side, side) uint8


def _thumbnail(image: Image.Image) -> Image.Image:
    """At most THUMBNAIL_SIDE on the longer side, as Image.thumbnail makes it, without first copying the original."""
    scale = THUMBNAIL_SIDE / max(image.size)
    if scale >= 1:
        return image  # only ever shrinks
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _record(root: Path, path: str, label: str, flat: Image.Image, thumbnail: str) -> ImageRecord:
    return ImageRecord(path=path, label=label, width=flat.width, height=flat.height,
                       channels=1 if flat.mode == "L" else 3, sha256=_sha256(root / path),
                       phash=difference_hash(flat), thumbnail=thumbnail)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _training_dataset(records: list[ImageRecord], images: np.ndarray, class_names: list[str],
                      unreadable: list[tuple[str, str]]) -> ImageDataset:
    """The engine's dataset from the records and their (N, 3, side, side) pixels, in the same order."""
    images = keep_one_channel_if_grey(images)
    index = {name: i for i, name in enumerate(class_names)}
    return ImageDataset(
        images=torch.from_numpy(images),  # uint8 (N, C, H, W)
        labels=torch.tensor([index[record.label] for record in records], dtype=torch.int64),
        class_names=list(class_names), paths=[record.path for record in records], skipped=list(unreadable),
        groups=torch.tensor(duplicate_groups(records), dtype=torch.int64),
    )


def _stats(records: list[ImageRecord], unreadable: int, training_shape: list[int]) -> dict:
    if not records:
        return {"num_images": 0, "unreadable": unreadable, "training_shape": training_shape}
    widths = [record.width for record in records]
    heights = [record.height for record in records]
    longest = np.array([max(w, h) for w, h in zip(widths, heights, strict=True)])
    edges = (0, *SIZE_BINS, None)
    histogram = [{"min_side": low, "max_side": None if high is None else high - 1,
                  "count": int(((longest >= low) & (longest < (high or np.inf))).sum())}
                 for low, high in zip(edges[:-1], edges[1:], strict=True)]
    channels = Counter(record.channels for record in records)
    return {
        "num_images": len(records), "unreadable": unreadable,
        "width": {"min": min(widths), "median": statistics.median(widths), "max": max(widths)},
        "height": {"min": min(heights), "median": statistics.median(heights), "max": max(heights)},
        "size_histogram": histogram,  # by the longest side, in pixels
        "channels": {"grey": channels[1], "colour": channels[3]},
        "training_shape": training_shape,  # (N, C, H, W) of the training file
        "resolution": training_shape[-1],
    }


def _skipped_findings(skipped: list[tuple[str, str]]) -> list[Finding]:
    nested = [name for name, reason in skipped if reason.startswith("archive inside")]
    clashes = [name for name, reason in skipped if reason.startswith("same name")]
    findings = []
    if nested:
        findings.append(Finding("warning", "nested_archives", f"{len(nested)} archive(s) inside the upload were "
                                "not opened, for safety. If they hold images, unpack them and add the images "
                                "to the main archive instead.", {"count": len(nested), "files": nested[:MAX_LISTED]}))
    if clashes:
        findings.append(Finding("warning", "name_clashes", f"{len(clashes)} file(s) had the same name as another "
                                "file once names were tidied up (accents, odd characters), so only the first was "
                                "kept. Rename them so every file has its own name.",
                                {"count": len(clashes), "files": clashes[:MAX_LISTED]}))
    return findings

