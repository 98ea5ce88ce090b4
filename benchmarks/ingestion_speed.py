"""Ingestion speed: images per second from an uploaded zip to thumbnails, findings and the training file.

    .venv/bin/python -m benchmarks.ingestion_speed            # 10,000 PNGs, ~1 minute on 2 cores
    .venv/bin/python -m benchmarks.ingestion_speed --images 2000

The upload is generated: 28 x 28 RGB PNGs, noise plus a shape whose kind and place depend on the class, in 10
class folders, zipped (deflate). Timed: ingest_archive end to end (extract, decode once, thumbnails, hashes,
findings, training .npz), and each stage from the progress callback.
"""

import argparse
import io
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from apps.datasets.ingestion import ingest_archive


def build_zip(path: Path, images: int, classes: int = 10, side: int = 28, seed: int = 0) -> Path:
    """A zip of `images` small PNGs in `classes` class folders."""
    generator = np.random.default_rng(seed)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(images):
            label = index % classes
            pixels = generator.integers(0, 96, (side, side, 3), dtype=np.uint8)
            image = Image.fromarray(pixels)
            draw = ImageDraw.Draw(image)
            x, y = generator.integers(2, side // 2, 2)
            box = (int(x), int(y), int(x) + 6 + label, int(y) + 6 + label)
            colour = tuple(int(c) for c in generator.integers(128, 256, 3))
            (draw.ellipse if label % 2 else draw.rectangle)(box, fill=colour)
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            archive.writestr(f"shapes/class_{label}/{index:05d}.png", buffer.getvalue())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        upload = build_zip(root / "upload.zip", args.images)
        upload_mb = upload.stat().st_size / 2**20
        stages: dict[str, float] = {}
        last = [time.perf_counter()]

        def on_progress(stage: str, done: int, total: int) -> None:
            now = time.perf_counter()
            stages[stage] = stages.get(stage, 0.0) + now - last[0]
            last[0] = now

        load = os.getloadavg()[0]  # other work on the machine slows the figure down; it is printed with it
        start, cpu_start = time.perf_counter(), time.process_time()
        result = ingest_archive(upload, root / "work", root / "out", on_progress=on_progress)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print("| images | zip MB | seconds | images/s | CPU seconds (this process) | CPU cores | load average before |\n"
          "|---|---|---|---|---|---|---|\n"
          f"| {len(result.records):,} | {upload_mb:.1f} | {seconds:.1f} | {len(result.records) / seconds:,.0f} | "
          f"{cpu_seconds:.1f} | {os.cpu_count()} | {load:.1f} |")
    print("\n| stage | seconds |\n|---|---|")
    for stage, spent in stages.items():
        print(f"| {stage} (until its last report) | {spent:.1f} |")
    print(f"\nfindings: {[finding.code for finding in result.findings]}; training shape "
          f"{result.stats['training_shape']}")


if __name__ == "__main__":
    main()
