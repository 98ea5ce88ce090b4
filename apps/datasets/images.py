"""Opening uploaded images safely, once, and their perceptual hashes."""

import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from apps.nas import preprocess
from apps.nas.preprocess import IMAGE_FORMATS

# Our own decompression-bomb limit, sized to a worker's memory. Decoding one image holds up to ~16 bytes a pixel at
# its peak (a transparent PNG: the decoded image, a white background, the two composited, their RGB copy;
# benchmarks/decode_memory.py measures it), so 50 Mpx costs ~800 MB on top of a worker's ~1 GB, whatever the upload's
# size on disk. 50 Mpx (8660 x 5773) takes most cameras' photos whole, and the engine trains at 224 px at most.
MAX_IMAGE_PIXELS = 50_000_000
HASH_SIDE = 8  # hashes are 8 x 8 = 64 bits


class ImageProblem(ValueError):
    """The file cannot be used as an image; the message says why in plain words."""


def decode_image(path: str | Path | BinaryIO) -> Image.Image:
    """The first frame, fully decoded and turned upright by its EXIF orientation, in its own mode.

    Args:
        path: the image file, or an open binary file (an upload); JPEG, PNG, WebP, BMP or GIF, judged by content.

    Raises:
        ImageProblem: not an image we read, truncated or corrupt, or too large (decompression bomb).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as probe:
                _check_size(probe)
                probe.verify()  # checks structure and checksums without decoding; the object is spent after it
        return preprocess.open_image(path)  # training decodes it the same way
    except ImageProblem:
        raise
    except Image.UnidentifiedImageError as error:
        raise ImageProblem("not an image (JPEG, PNG, WebP, BMP and GIF are read)") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageProblem("too large (decompression bomb)") from error
    except MemoryError:
        raise
    except Exception as error:  # Pillow's decoders raise many types on damaged input; all mean the same here
        raise ImageProblem(f"truncated or corrupt ({type(error).__name__}: {error})"[:200]) from error


def flatten(image: Image.Image) -> Image.Image:
    """The image as "L" (grey) or "RGB": transparency composited on white, 16-bit and float scaled to 8-bit.

    Args:
        image: any Pillow image, e.g. from decode_image.
    """
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
        return flat.convert("L") if mode in ("LA", "La") else flat
    if mode == "1":
        return image.convert("L")
    if mode.startswith(("I", "F")):
        return preprocess.to_eight_bits(image)
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV


def open_image(path: str | Path | BinaryIO) -> Image.Image:
    """Decode safely and return an upright "L" or "RGB" image (see decode_image and flatten).

    Args:
        path: the image file.

    Raises:
        ImageProblem: see decode_image.
    """
    return flatten(decode_image(path))


def average_hash(image: Image.Image) -> int:
    """64-bit average hash: each pixel of an 8 x 8 grey thumbnail against the thumbnail's mean.

    Args:
        image: any Pillow image.
    """
    pixels = _grey(image, (HASH_SIDE, HASH_SIDE))
    return _bits_to_int(pixels > pixels.mean())


def difference_hash(image: Image.Image) -> int:
    """64-bit difference hash: whether each pixel of a 9 x 8 grey thumbnail is brighter than its left neighbour.

    Args:
        image: any Pillow image.
    """
    pixels = _grey(image, (HASH_SIDE + 1, HASH_SIDE))
    return _bits_to_int(pixels[:, 1:] > pixels[:, :-1])


def _grey(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(flatten(image).convert("L").resize(size, Image.Resampling.BOX), dtype=np.int16)


def _bits_to_int(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.ravel()).tobytes(), "big")


def _check_size(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageProblem(f"too large (decompression bomb): {width} x {height} pixels, the limit is "
                           f"{MAX_IMAGE_PIXELS // 1_000_000} million")
