"""Fixtures that write tiny image-classification datasets as PNG class folders into tmp_path."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

# Tiny shapes gain nothing from intra-op threads, and on a busy 2-core machine competing OpenMP threads can make
# a one-second test take twenty.
torch.set_num_threads(1)


def write_image_folder(root: Path, *, classes: int = 3, per_class: int = 20, size: tuple[int, int] = (10, 12),
                       mode: str = "L", corrupt: int = 0, seed: int = 0) -> Path:
    """root/class_<k>/<i>.png: class k is a bright square at its own spot on a noisy dark background.

    Args:
        size: (width, height) of every image.
        mode: Pillow mode of the files ("L", "RGB", "RGBA", "P", ...); RGB and RGBA images are in colour.
        corrupt: extra files per the first class that are not valid images (truncated PNG bytes).
    """
    rng = np.random.default_rng(seed)
    width, height = size
    for k in range(classes):
        folder = root / f"class_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        # Square centres on a ring, far enough apart that a small CNN separates them easily.
        angle = 2 * np.pi * k / classes
        cx = int(round((width - 1) / 2 + np.cos(angle) * width / 4))
        cy = int(round((height - 1) / 2 + np.sin(angle) * height / 4))
        for i in range(per_class):
            pixels = rng.integers(0, 60, size=(height, width), dtype=np.uint8)
            y0, x0 = max(0, cy - 1 + int(rng.integers(-1, 2))), max(0, cx - 1 + int(rng.integers(-1, 2)))
            pixels[y0:y0 + 3, x0:x0 + 3] = rng.integers(200, 256)
            if mode in ("RGB", "RGBA"):
                # Real colour (channels differ), so the loader keeps three channels.
                colour = np.stack([pixels, pixels // 2, 255 - pixels], axis=-1)
                image = Image.fromarray(colour, mode="RGB").convert(mode)
            else:
                image = Image.fromarray(pixels, mode="L").convert(mode)
            image.save(folder / f"{i:03d}.png")
    good = next((root / "class_0").glob("*.png")).read_bytes()
    for i in range(corrupt):
        (root / "class_0" / f"broken_{i}.png").write_bytes(good[: len(good) // 3])
    return root


@pytest.fixture
def make_image_folder(tmp_path):
    """Factory: make_image_folder(classes=3, per_class=20, size=(10, 12), mode="L", corrupt=0) -> folder path."""
    counter = iter(range(1_000_000))

    def make(**options) -> Path:
        return write_image_folder(tmp_path / f"dataset_{next(counter)}", **options)

    return make


@pytest.fixture
def tiny_dataset(make_image_folder):
    """A loaded 3-class, 12x12 grayscale dataset (72 images)."""
    from apps.nas.data import load_image_folder

    return load_image_folder(make_image_folder(classes=3, per_class=24, size=(12, 12)))
