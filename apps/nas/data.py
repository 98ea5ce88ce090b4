"""Image-classification datasets in memory: load a folder of class folders, split it, save it.

Images become tensors by the preprocessing rule of apps.nas.preprocess.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from apps.nas.preprocess import (
    IMAGE_EXTENSIONS,
    MAX_SIDE,
    MIN_SIDE,
    automatic_side,
    keep_one_channel_if_grey,
    open_image,
    to_rgb_at_side,
)
from apps.nas.shares import TEST_FRACTION, VAL_FRACTION, held_out

# Each class needs at least one image in each of train, validation and test.
MIN_IMAGES_PER_CLASS = 3
# Pixels are unpacked into a memory-mapped file this many bytes at a time.
UNPACK_CHUNK_BYTES = 64 * 1024 * 1024


class DatasetError(ValueError):
    """The data cannot be used as it is; the message says why in plain words and what to do."""


@dataclass
class ImageDataset:
    """Decoded images at one resolution, with their labels and their groups of near-duplicates."""

    images: torch.Tensor  # uint8 (N, C, H, W), C is 1 or 3
    labels: torch.Tensor  # int64 (N,)
    class_names: list[str]
    paths: list[str]  # source file of each image relative to the dataset root ('' if unknown)
    skipped: list[tuple[str, str]]  # unreadable files: (relative path, reason)
    # int64 (N,): images with the same id are copies or near-copies of one another, which a split keeps together.
    # None: each image its own group.
    groups: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.groups is None:
            self.groups = torch.arange(len(self.labels), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def slice(self, start: int, stop: int) -> "ImageDataset":
        """Images start..stop-1 as a view: the pixels are shared, not copied."""
        return ImageDataset(self.images[start:stop], self.labels[start:stop], list(self.class_names),
                            self.paths[start:stop], [], self.groups[start:stop])

    def reorder_in_place(self, order: np.ndarray) -> None:
        """Put the image at order[i] in position i, for every i, moving the pixels within their own tensor.

        Holds one image aside at a time (a permutation is a set of cycles), so reordering 3 GB of photos needs no
        second 3 GB.
        """
        index = torch.from_numpy(order)
        self.labels, self.groups = self.labels[index], self.groups[index]
        self.paths = [self.paths[i] for i in order.tolist()]
        placed = np.zeros(len(order), dtype=bool)
        for start in range(len(order)):
            if placed[start]:
                continue
            held = self.images[start].clone()
            position = start
            while True:
                placed[position] = True
                source = int(order[position])
                if source == start:
                    self.images[position] = held
                    break
                self.images[position] = self.images[source]
                position = source

    def subset(self, indices) -> "ImageDataset":
        """The images at `indices` (a list, array or tensor of positions), same classes."""
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return ImageDataset(self.images[index], self.labels[index], list(self.class_names),
                            [self.paths[i] for i in index.tolist()], [], self.groups[index])

    def save(self, path: str | Path) -> None:
        """Write a compressed .npz (no pickled objects, so loading it runs no code)."""
        np.savez_compressed(
            path, images=self.images.numpy(), labels=self.labels.numpy(),
            class_names=np.array(self.class_names, dtype=str), paths=np.array(self.paths, dtype=str),
            skipped=np.array(self.skipped, dtype=str).reshape(-1, 2), groups=self.groups.numpy(),
        )

    @classmethod
    def load(cls, path: str | Path, pixels_file: Path | None = None) -> "ImageDataset":
        """Read a file written by save(); a file from before groups were saved gives each image its own group.

        Args:
            path: the .npz file.
            pixels_file: where to unpack the pixels as a .npy and map them from, read-write (the caller keeps the
                file while the dataset is in use); None: into memory. Mapped, 20,000 photos at 224 px cost the
                process 3 GB less: their pages are the kernel's file cache, which it can drop and read again.
        """
        with np.load(path, allow_pickle=False) as archive:
            images = archive["images"] if pixels_file is None else _unpack_to_map(archive, "images", pixels_file)
            return cls(
                torch.from_numpy(images), torch.from_numpy(archive["labels"]),
                archive["class_names"].tolist(), archive["paths"].tolist(),
                [(str(file), str(reason)) for file, reason in archive["skipped"].tolist()],
                torch.from_numpy(archive["groups"]) if "groups" in archive.files else None,
            )


def _unpack_to_map(archive: np.lib.npyio.NpzFile, name: str, target: Path) -> np.memmap:
    """An array of an .npz, copied a chunk at a time into a .npy at `target`, memory-mapped read-write."""
    with archive.zip.open(f"{name}.npy") as member:
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}[np.lib.format.read_magic(member)]
        shape, fortran_order, dtype = read_header(member)
        if fortran_order:
            raise ValueError(f"{name} is stored in Fortran order; save() writes C order")
        mapped = np.lib.format.open_memmap(target, mode="w+", dtype=dtype, shape=shape)
        flat = mapped.reshape(-1)
        chunk = max(1, UNPACK_CHUNK_BYTES // dtype.itemsize)
        for start in range(0, flat.size, chunk):
            count = min(chunk, flat.size - start)
            flat[start:start + count] = np.frombuffer(member.read(count * dtype.itemsize), dtype=dtype)
    mapped.flush()
    return mapped


@dataclass
class DatasetSplits:
    """Disjoint, stratified train / validation / test parts of one dataset; no group straddles two parts.

    The parts are consecutive slices of one dataset (train | validation | test), so they and train+validation (what
    a final training learns from) are views of one tensor of pixels.
    """

    train: ImageDataset
    val: ImageDataset
    test: ImageDataset
    train_and_val: ImageDataset


def _sub_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def _class_folders(root: Path) -> list[Path]:
    folders = _sub_folders(root)
    has_images = any(p.suffix.lower() in IMAGE_EXTENSIONS for p in root.iterdir() if p.is_file())
    # An archive often unpacks to one wrapping folder ("flowers/daisy/...", "flowers/rose/..."): look inside it.
    if len(folders) == 1 and not has_images and len(_sub_folders(folders[0])) >= 2:
        return _sub_folders(folders[0])
    return folders


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    with Image.open(path) as image:
        return image.size


def _check_dataset_folder(root: Path, resolution: int | None) -> list[Path]:
    """The class folders, or a DatasetError saying what is wrong with the folder."""
    if not root.is_dir():
        raise DatasetError(f"The dataset folder {root} does not exist. Upload a folder (or zip) of class folders.")
    if not any(root.iterdir()):
        raise DatasetError("The dataset is empty. Upload a folder with one sub-folder per class, each holding "
                           "that class's images.")
    folders = _class_folders(root)
    if not folders:
        raise DatasetError("No class folders found. Put the images of each class in its own sub-folder "
                           "(for example cats/ and dogs/); the folder names become the class names.")
    if len(folders) < 2:
        raise DatasetError(f"Only one class folder was found ({folders[0].name!r}). A classifier needs at least "
                           "two classes: add one sub-folder per class.")
    if resolution is not None and not MIN_SIDE // 2 <= resolution <= 4 * MAX_SIDE:
        raise DatasetError(f"Resolution {resolution} is out of range: choose {MIN_SIDE // 2} to {4 * MAX_SIDE} "
                           "pixels, or leave it empty to choose automatically.")
    return folders


def load_image_folder(root: str | Path, resolution: int | None = None) -> ImageDataset:
    """Load a folder of class folders (root/<class name>/<images>) into memory.

    Args:
        root: the dataset folder; each sub-folder is a class, its images (any depth) are that class's examples.
            PNG, JPEG, WebP, BMP, GIF; grayscale or colour; mixed sizes. Files that cannot be decoded are
            listed in `skipped` and left out.
        resolution: side in pixels every image is resized to; None chooses it (see the module docstring).

    Raises:
        DatasetError: missing or empty folder, no class folders, a single class, or a class with fewer than
            MIN_IMAGES_PER_CLASS readable images.
    """
    folders = _check_dataset_folder(Path(root), resolution)
    base = folders[0].parent
    skipped: list[tuple[str, str]] = []
    candidates: list[tuple[Path, int, tuple[int, int]]] = []  # (file, label, (width, height))
    for label, folder in enumerate(folders):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            relative = path.relative_to(base).as_posix()
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append((relative, f"not an image type we read ({', '.join(sorted(IMAGE_EXTENSIONS))})"))
                continue
            try:
                candidates.append((path, label, _image_size(path)))
            except Exception as error:  # any failure to read the header means "unreadable", never fatal
                skipped.append((relative, f"unreadable image: {error}"))
    side = resolution or automatic_side([size for _, _, size in candidates] or [(MIN_SIDE, MIN_SIDE)])
    # Decode and shrink one file at a time into one array filled in place: memory holds one small copy of each.
    pixels = np.empty((len(candidates), 3, side, side), dtype=np.uint8)
    labels, paths = [], []
    for path, label, _ in candidates:
        relative = path.relative_to(base).as_posix()
        try:
            pixels[len(labels)] = np.asarray(to_rgb_at_side(open_image(path), side)).transpose(2, 0, 1)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            skipped.append((relative, "image too large (possible decompression bomb)"))
            continue
        except Exception as error:  # a truncated or corrupt file is listed, not fatal
            skipped.append((relative, f"unreadable image: {error}"))
            continue
        labels.append(label)
        paths.append(relative)
    counts = np.bincount(np.array(labels, dtype=np.int64), minlength=len(folders))
    too_few = [f"{folder.name} ({count})" for folder, count in zip(folders, counts, strict=True)
               if count < MIN_IMAGES_PER_CLASS]
    if too_few:
        raise DatasetError(f"Each class needs at least {MIN_IMAGES_PER_CLASS} readable images (one each for "
                           f"training, validation and test); too few in: {', '.join(too_few)}. Add images to "
                           "these classes or remove their folders.")
    images = torch.from_numpy(keep_one_channel_if_grey(pixels[:len(labels)]))  # (N, C, H, W)
    # Each image is its own group: this loader hashes nothing. Uploads through the web are grouped by their
    # perceptual hashes at ingestion (apps.datasets), which keeps one implementation of the hash.
    return ImageDataset(images, torch.tensor(labels, dtype=torch.int64), [folder.name for folder in folders],
                        paths, skipped)


def split_dataset(ds: ImageDataset, seed: int, val_fraction: float = VAL_FRACTION,
                  test_fraction: float = TEST_FRACTION) -> DatasetSplits:
    """Stratified split that keeps every group of near-duplicates in one part; the same seed gives the same split.

    The dataset is reordered in place, train | validation | test, and the parts are views of it: the pixels are
    never copied (20,000 photos at 224 px are 3 GB).

    Each class is divided in the same proportions, as closely as whole groups allow (exactly, when every image is
    its own group). A copy in another class is a label conflict, not a leak (it teaches the opposite answer), so
    groups are kept whole within each class.

    Args:
        ds: the dataset to split.
        seed: fixes which image lands where.
        val_fraction, test_fraction: shares of each class (each at least one image when the share is > 0).
    """
    generator = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    labels, groups = ds.labels.numpy(), ds.groups.numpy()
    for label in range(ds.num_classes):
        members = np.flatnonzero(labels == label).tolist()
        n_test, n_val = held_out(len(members), test_fraction), held_out(len(members), val_fraction)
        if len(members) - n_test - n_val < 1:
            raise DatasetError(f"Class {ds.class_names[label]!r} has too few images ({len(members)}) to split "
                               "into training, validation and test. Add images to it.")
        by_group: dict[int, list[int]] = {}
        for index in members:
            by_group.setdefault(int(groups[index]), []).append(index)
        # By group id, not by position: the ids travel with the images, so splitting again after a reorder gives
        # the same parts (and a reorder keeps the members of a group in their order).
        in_order = [by_group[group] for group in sorted(by_group)]
        class_parts = _fill_with_groups(in_order, n_test, n_val, generator)
        if class_parts is None:
            # Whole groups cannot give this class a test and a validation image: nearly all its images are copies
            # of one another (the data report says so). Splitting them one by one at least lets the run go ahead.
            class_parts = _fill_with_groups([[index] for group in in_order for index in group], n_test, n_val,
                                            generator)
        for name, indices in class_parts.items():
            parts[name] += indices
    order = [index for name in ("train", "val", "test")
             for index in sorted(parts[name], key=lambda index: (groups[index], index))]
    ds.reorder_in_place(np.array(order, dtype=np.int64))
    n_train, n_val = len(parts["train"]), len(parts["val"])
    return DatasetSplits(train=ds.slice(0, n_train), val=ds.slice(n_train, n_train + n_val),
                         test=ds.slice(n_train + n_val, len(ds)), train_and_val=ds.slice(0, n_train + n_val))


def _fill_with_groups(groups: list[list[int]], n_test: int, n_val: int,
                      generator: np.random.Generator) -> dict[str, list[int]] | None:
    """Whole groups, in the seed's order, into test and then validation while they fit; the rest into training.

    None when test or validation wanted images and got none (every group was too big for it).
    """
    wanted = {"test": n_test, "val": n_val}
    parts: dict[str, list[int]] = {"test": [], "val": [], "train": []}
    for position in generator.permutation(len(groups)):
        group = groups[position]
        name = next((name for name in wanted if len(parts[name]) + len(group) <= wanted[name]), "train")
        parts[name] += group
    if any(wanted[name] and not parts[name] for name in wanted):
        return None
    return parts
