"""How an image file becomes a model input: the one preprocessing rule of training, export and prediction.

The rule (bundle/predict.py repeats it step for step, and preprocessing.json describes it):
  1. Decode with Pillow; apply the EXIF orientation; first frame of animations.
  2. Scale 16-bit and floating-point grey to 8 bits (Pillow's own conversion would clip them to white); flatten
     transparency onto a white background; convert to RGB.
  3. Keep the aspect ratio: crop the centre of the longer side to a square, then resize to side x side with
     bilinear filtering (Pillow's ImageOps.fit, antialiased when shrinking). A stretch would turn round parts
     into ovals and make the same object look different in portrait and landscape photos; the centre crop is
     also how the ImageNet backbones were evaluated (resize the short side, crop the centre). Padding would keep
     the edges but spend pixels on borders the model must learn to ignore.
  4. One channel (Pillow's "L" conversion) when every image of the dataset is grayscale, else three (RGB).
The side, unless given: the median over images of max(width, height), clamped to [MIN_SIDE, MAX_SIDE] -- the
images' own size when that is small (8 for scikit-learn digits, 28 for MNIST), and at most the side the
pretrained networks were trained at (224) for photos. A network from scratch shrinks them further inside
(apps.nas.build.MAX_SCRATCH_SIDE), so a CPU budget is spent on pixels only where a pretrained network uses them.
It needs no PyTorch, so the web process can prepare an image for the exported model without loading it.
"""

import statistics
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}
# The formats training, ingestion and try-it decode, judged by content; Pillow's other decoders (SGI, QOI, FTEX...)
# are rarely used and less hardened. JPEG's opener also yields MPO (multi-picture camera JPEGs).
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
EIGHT_BIT_BLOCK_VALUES = 2**20  # values converted at a time: an 8 MB float64 scratch, whatever the image's size
MIN_SIDE = 8
MAX_SIDE = 224


def automatic_side(sizes: list[tuple[int, int]]) -> int:
    """Median of max(width, height) over the images, clamped to [MIN_SIDE, MAX_SIDE]."""
    median = statistics.median(max(width, height) for width, height in sizes)
    return int(min(MAX_SIDE, max(MIN_SIDE, round(median))))


def open_image(path: str | Path | BinaryIO, formats: tuple[str, ...] = IMAGE_FORMATS) -> Image.Image:
    """Step 1 of the rule: decode fully, oriented by EXIF, first frame; refuses decompression bombs instead of
    warning.

    Args:
        path: the image file, or an open binary file (an upload).
        formats: Pillow format names to accept (judged by content).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path, formats=formats) as image:
            image.seek(0)
            image.load()
            return ImageOps.exif_transpose(image)


def to_eight_bits(image: Image.Image) -> Image.Image:
    """16-bit and floating-point grey as 8-bit "L", scaled; other modes unchanged. Pillow's own conversion to "L"
    or "RGB" clips every value above 255, which turns a 16-bit photo white."""
    if not image.mode.startswith(("I", "F")):
        return image
    values = np.asarray(image)  # (H, W) in the image's own type: 2 bytes a pixel for 16-bit, not float64's 8
    sixteen_bits = image.mode.startswith("I;16") or values.max(initial=0) > 255
    eight_bits = np.empty(values.shape, dtype=np.uint8)
    rows = max(1, EIGHT_BIT_BLOCK_VALUES // max(1, values.shape[1]))
    for start in range(0, len(values), rows):
        block = values[start:start + rows].astype(np.float64)
        if sixteen_bits:
            block /= 257  # 0..65535 onto 0..255
        eight_bits[start:start + rows] = np.clip(np.rint(block), 0, 255)
    return Image.fromarray(eight_bits)


def to_rgb_at_side(image: Image.Image, side: int) -> Image.Image:
    """Steps 2-3 of the preprocessing rule: 8 bits, transparency onto white, RGB, centre square resized to side x
    side."""
    image = to_eight_bits(image)
    # Each full-size copy of a large photo costs its size again: convert only what is not in the mode needed yet.
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return ImageOps.fit(rgb, (side, side), Image.Resampling.BILINEAR)


def preprocess_image(image: Image.Image, side: int, channels: int) -> np.ndarray:
    """Steps 2-4 of the preprocessing rule for one decoded image, as a model input: (C, side, side) uint8."""
    resized = to_rgb_at_side(image, side)
    if channels == 1:
        resized = resized.convert("L")
    return np.asarray(resized).reshape(side, side, channels).transpose(2, 0, 1)


def keep_one_channel_if_grey(images: np.ndarray) -> np.ndarray:
    """Step 4 for a whole dataset: (N, 3, H, W) -> (N, 1, H, W) when every image is grey, else unchanged."""
    if all((image[:1] == image).all() for image in images):  # one image at a time: no dataset-sized mask
        return np.ascontiguousarray(images[:, :1])  # for R == G == B, Pillow's "L" conversion is R
    return images
