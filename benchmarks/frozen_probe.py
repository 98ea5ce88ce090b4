"""Frozen-feature probe: pretrained EfficientNet-Lite features of real photos, then a logistic regression.

    .venv/bin/python -m benchmarks.frozen_probe --backbone lite0 --images 1000 --threads 2

Reads the photos straight from the zip (default: shared/datasets/caltech10.zip beside the repository), decodes
and resizes each with the engine's preprocessing rule (apps.nas.preprocess: RGB, centre square resized to the
backbone's side), and times the backbone's frozen features of --images photos drawn at random (seed 0) from the
split file (0: all of them), in inference mode at fp32. Then fits a logistic regression on the features of the
split's train photos and scores it on its test photos (both among the photos read). Prints the decode time, the
feature time, images/s and the test accuracy.
"""

import argparse
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from apps.nas.backbones import BACKBONES
from apps.nas.build import build
from apps.nas.features import CPU_BATCH_SIZE, FeatureCache
from apps.nas.preprocess import to_rgb_at_side
from apps.nas.space import SearchSpace, probe_genotype

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "caltech10.zip"


def read_split(archive: Path) -> list[tuple[str, str]]:
    """(class/file, train|val|test) rows of the split file beside the zip, in its order."""
    lines = archive.with_suffix(".split.txt").read_text().splitlines()
    return [tuple(line.split("\t")) for line in lines if line.strip()]


def decode_photos(archive: Path, names: list[str], side: int) -> torch.Tensor:
    """uint8 (N, 3, side, side) of the named zip members, in the engine's preprocessing."""
    images = np.empty((len(names), 3, side, side), dtype=np.uint8)
    with zipfile.ZipFile(archive) as zipped:
        members = {Path(name).relative_to(Path(name).parts[0]).as_posix(): name for name in zipped.namelist()}
        for index, name in enumerate(names):
            with zipped.open(members[name]) as file, Image.open(file) as image:
                image = ImageOps.exif_transpose(image)
                images[index] = np.asarray(to_rgb_at_side(image, side)).transpose(2, 0, 1)
    return torch.from_numpy(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATASET)
    parser.add_argument("--backbone", choices=sorted(BACKBONES), default="lite0")
    parser.add_argument("--images", type=int, default=1000, help="0 for all")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = read_split(args.data)
    if 0 < args.images < len(rows):
        # The split file lists the photos class by class: a random subset keeps every class.
        keep = np.sort(np.random.default_rng(0).choice(len(rows), args.images, replace=False))
        rows = [rows[index] for index in keep]
    names = [name for name, _ in rows]
    labels = np.array([name.split("/")[0] for name in names])
    splits = np.array([split for _, split in rows])
    side = BACKBONES[args.backbone].side
    # auto's frozen probe network, at the backbone's own side; its features computed as a search computes them.
    genotype = {**probe_genotype(SearchSpace(backbones=(args.backbone,))), "side": side}
    network = build(genotype, (3, side, side), len(set(labels)))

    start = time.perf_counter()
    images = decode_photos(args.data, names, side)
    decode_seconds = time.perf_counter() - start
    FeatureCache().features(network, images[:CPU_BATCH_SIZE])  # warm-up: first-call allocations
    start = time.perf_counter()
    feature_rows = FeatureCache().features(network, images).numpy()
    feature_seconds = time.perf_counter() - start

    train, test = splits == "train", splits == "test"
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(feature_rows[train], labels[train])
    accuracy = probe.score(feature_rows[test], labels[test])

    print(f"{args.backbone} at {side} px, {len(names)} photos, {args.threads} threads, fp32")
    print(f"decode + resize: {decode_seconds:.1f} s")
    print(f"features: {feature_seconds:.1f} s, {len(names) / feature_seconds:.1f} images/s")
    print(f"logistic regression: {train.sum()} train, {test.sum()} test photos, test accuracy {accuracy:.1%}")


if __name__ == "__main__":
    main()
