"""Peak memory of a search on 20,000 photos at 224 px: the pixels alone are 3.0 GB, the goal is at most 4 GB.

    .venv/bin/python -m benchmarks.photo_memory --images 20000 --budget 300 --threads 1

Writes a synthetic dataset of --images colour pictures at --side px (10 classes of shifted, tinted, noisy
textures) as the engine's training file, then runs `auto` on it in a fresh process, loaded from that file as a
worker loads it (apps.datasets.processing: the pixels mapped from a file). Prints that process's peak memory
after loading, after the split and at the end of the run: its own (anonymous) memory, sampled every 50 ms, which
the kernel cannot take back; and its peak resident set (VmHWM), which also counts the mapped pixels' pages of the
file cache, which the kernel drops and reads again when memory runs short.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from apps.nas.config import SearchConfig
from apps.nas.data import ImageDataset
from apps.nas.search import run_search

CLASSES = 10
CHUNK = 500
GIB = 1024 ** 3


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmHWM: unlike ru_maxrss, not inherited from the
    forking parent)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(f"{field}:"))) * 1024


class AnonymousPeak:
    """The highest RssAnon seen, sampled by a background thread."""

    def __init__(self) -> None:
        self.peak = status_bytes("RssAnon")
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, status_bytes("RssAnon"))
            time.sleep(0.05)

    def read(self) -> dict:
        return {"anonymous": max(self.peak, status_bytes("RssAnon")), "resident": status_bytes("VmHWM")}


def synthetic_photos(count: int, side: int, seed: int = 0) -> ImageDataset:
    """`count` uint8 colour images: each class a smooth texture of its own, shifted, tinted and noised per image."""
    generator = np.random.default_rng(seed)
    coarse = generator.random((CLASSES, 3, 8, 8), dtype=np.float32)
    textures = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(side, side), mode="bicubic",
                                               align_corners=False).clamp(0, 1).numpy()
    noise = generator.integers(0, 40, (64, 3, side, side), dtype=np.uint8)
    labels = np.arange(count) % CLASSES
    images = np.empty((count, 3, side, side), dtype=np.uint8)
    for start in range(0, count, CHUNK):
        index = np.arange(start, min(count, start + CHUNK))
        shifts = generator.integers(0, side, len(index))
        tints = generator.uniform(0.6, 1.0, (len(index), 3, 1, 1)).astype(np.float32)
        for row, (image, shift) in enumerate(zip(index, shifts, strict=True)):
            texture = np.roll(textures[labels[image]], shift, axis=2) * tints[row] * 215
            images[image] = texture.astype(np.uint8) + noise[image % len(noise)]
    return ImageDataset(torch.from_numpy(images), torch.from_numpy(labels), [f"class_{k}" for k in range(CLASSES)],
                        [f"{i:05d}.png" for i in range(count)], [])


def measure(training_file: Path, budget: float, threads: int) -> None:
    """In this process: load the training file, run auto on it, print the peaks as JSON."""
    torch.set_num_threads(threads)
    sampler = AnonymousPeak()
    peaks = {"start": sampler.read()}
    dataset = ImageDataset.load(training_file, pixels_file=training_file.with_name("pixels.npy"))
    peaks["loaded"] = sampler.read()

    def on_event(event: dict) -> None:
        if event["type"] == "run_started":
            peaks["split"] = sampler.read()

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work_dir:
        result = run_search(SearchConfig(budget_seconds=budget, strategy="auto", seed=0), dataset, work_dir,
                            on_event=on_event)
    peaks["end"] = sampler.read()
    print(json.dumps({"peaks": peaks, "seconds": time.monotonic() - started, "pixels": dataset.images.nbytes,
                      "test_accuracy": result.best.test_accuracy, "best": result.best.genotype_summary,
                      "trials": result.summary.trials}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--side", type=int, default=224)
    parser.add_argument("--budget", type=float, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process's own run
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.budget, args.threads)
        return
    with tempfile.TemporaryDirectory() as scratch:
        training_file = Path(scratch) / "training.npz"
        synthetic_photos(args.images, args.side).save(training_file)
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.photo_memory", "--measure", str(training_file),
             "--budget", str(args.budget), "--threads", str(args.threads)],
            check=True, stdout=subprocess.PIPE, text=True)
    report = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"{args.images} photos at {args.side} px: pixels {report['pixels'] / GIB:.2f} GiB, auto at "
          f"{args.budget:.0f} s ran {report['seconds']:.0f} s, {report['trials']}, test accuracy "
          f"{report['test_accuracy']:.2%}, best {report['best']}")
    print("| milestone | peak own (anonymous) memory | peak resident, mapped pixels included |\n|---|---|---|")
    for milestone, peak in report["peaks"].items():
        print(f"| {milestone} | {peak['anonymous'] / GIB:.2f} GiB | {peak['resident'] / GIB:.2f} GiB |")


if __name__ == "__main__":
    main()
