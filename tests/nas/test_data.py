"""A user's folder of class folders becomes a dataset, or a plain-words error that says what to fix."""

import numpy as np
import pytest
import torch
from PIL import Image

from apps.nas.data import DatasetError, ImageDataset, load_image_folder, split_dataset
from apps.nas.preprocess import automatic_side, open_image, preprocess_image


def test_it_loads_class_folders_as_labelled_uint8_images(make_image_folder):
    dataset = load_image_folder(make_image_folder(classes=3, per_class=5, size=(10, 12)))
    assert dataset.images.dtype == torch.uint8 and dataset.labels.dtype == torch.int64
    assert dataset.input_shape == (1, 12, 12)  # grayscale; side = median of max(width, height)
    assert dataset.class_names == ["class_0", "class_1", "class_2"]
    assert dataset.labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert dataset.paths[0] == "class_0/000.png"
    assert dataset.num_classes == 3 and len(dataset) == 15 and dataset.skipped == []


def test_pixels_survive_loading_at_their_own_size(make_image_folder):
    root = make_image_folder(classes=2, per_class=3, size=(9, 9))
    dataset = load_image_folder(root)
    original = np.asarray(Image.open(root / dataset.paths[4]))
    assert np.array_equal(dataset.images[4, 0].numpy(), original)


def test_colour_anywhere_makes_the_dataset_rgb_and_mixed_sizes_are_resized(make_image_folder):
    root = make_image_folder(classes=2, per_class=4, size=(16, 16))
    Image.new("RGB", (40, 20), (200, 10, 10)).save(root / "class_1" / "red.jpg")
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(root / "class_1" / "clear.webp")
    dataset = load_image_folder(root)
    assert dataset.input_shape == (3, 16, 16)
    clear = dataset.images[dataset.paths.index("class_1/clear.webp")]
    assert (clear == 255).all()  # transparency lands on white
    assert load_image_folder(root, resolution=8).input_shape == (3, 8, 8)


def test_unreadable_files_are_listed_not_fatal(make_image_folder):
    root = make_image_folder(classes=2, per_class=4, corrupt=2)
    (root / "class_1" / "notes.txt").write_text("hello")
    dataset = load_image_folder(root)
    assert len(dataset) == 8
    reasons = dict(dataset.skipped)
    assert set(reasons) == {"class_0/broken_0.png", "class_0/broken_1.png", "class_1/notes.txt"}
    assert "unreadable" in reasons["class_0/broken_0.png"]


def test_a_wrapping_folder_from_an_archive_is_looked_through(make_image_folder):
    root = make_image_folder(classes=2, per_class=3)
    wrapper = root.parent / "upload"
    (wrapper / "flowers").mkdir(parents=True)
    root.rename(wrapper / "flowers" / "inner")
    inner = wrapper / "flowers" / "inner"
    for folder in inner.iterdir():
        folder.rename(wrapper / "flowers" / folder.name)
    inner.rmdir()
    assert load_image_folder(wrapper).class_names == ["class_0", "class_1"]


def test_bad_folders_give_plain_errors(tmp_path, make_image_folder):
    with pytest.raises(DatasetError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty"):
        load_image_folder(tmp_path / "empty")
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("L", (8, 8)).save(flat / "a.png")
    with pytest.raises(DatasetError, match="No class folders"):
        load_image_folder(flat)
    with pytest.raises(DatasetError, match="at least two classes"):
        load_image_folder(make_image_folder(classes=1, per_class=5))
    with pytest.raises(DatasetError, match=r"class_1 \(2\)"):
        root = make_image_folder(classes=2, per_class=5)
        for extra in sorted((root / "class_1").iterdir())[2:]:
            extra.unlink()
        load_image_folder(root)


def test_a_class_of_only_broken_files_is_an_error_naming_it(make_image_folder):
    root = make_image_folder(classes=2, per_class=3)
    for path in (root / "class_1").iterdir():
        path.write_bytes(b"broken")
    with pytest.raises(DatasetError, match=r"class_1 \(0\)"):
        load_image_folder(root)


def test_pictures_keep_their_shape_the_centre_square_is_kept(tmp_path):
    # A landscape photo of a white disc on black, centred, with red bars at both ends (outside the centre square).
    height, width = 40, 80
    y, x = np.mgrid[:height, :width]
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[(y - height / 2 + 0.5) ** 2 + (x - width / 2 + 0.5) ** 2 <= 15**2] = 255
    pixels[:, :10] = pixels[:, -10:] = (255, 0, 0)
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")

    image = load_image_folder(tmp_path, resolution=20).images[0].numpy()

    assert image.shape == (1, 20, 20)  # the red ends were cropped away: nothing coloured is left
    white = image[0] > 127
    rows, columns = np.flatnonzero(white.any(axis=1)), np.flatnonzero(white.any(axis=0))
    assert abs(len(rows) - len(columns)) <= 1 and len(rows) >= 12  # still a disc, not an ellipse squeezed sideways


def test_a_sixteen_bit_grey_photo_trains_as_its_picture_not_as_white(tmp_path):
    Image.fromarray(np.full((6, 6), 32768, dtype=np.uint16)).save(tmp_path / "deep.png")  # mid-grey, mode I;16

    pixels = preprocess_image(open_image(tmp_path / "deep.png"), side=4, channels=3)

    assert (pixels == 128).all()  # Pillow's own conversion clips it to 255


def test_automatic_resolution_follows_the_median_and_is_clamped():
    assert automatic_side([(8, 8)] * 3) == 8
    assert automatic_side([(28, 28), (30, 20), (100, 100)]) == 30
    assert automatic_side([(4, 4)]) == 8
    assert automatic_side([(4000, 3000)] * 2) == 224


def test_split_is_stratified_disjoint_and_reproducible(make_image_folder):
    dataset = load_image_folder(make_image_folder(classes=3, per_class=20))
    splits = split_dataset(dataset, seed=7)
    again = split_dataset(dataset, seed=7)
    other = split_dataset(dataset, seed=8)
    assert splits.test.paths == again.test.paths and splits.test.paths != other.test.paths
    parts = [set(part.paths) for part in (splits.train, splits.val, splits.test)]
    assert sum(map(len, parts)) == len(dataset) == len(set.union(*parts))
    for part, expected in ((splits.train, 14), (splits.val, 3), (splits.test, 3)):
        assert torch.bincount(part.labels).tolist() == [expected] * 3


def test_subset_and_save_round_trip(tmp_path, make_image_folder):
    dataset = load_image_folder(make_image_folder(classes=2, per_class=4, corrupt=1))
    part = dataset.subset([0, 1, 5])
    assert part.labels.tolist() == [0, 0, 1] and part.paths == [dataset.paths[i] for i in (0, 1, 5)]
    dataset.save(tmp_path / "data.npz")
    loaded = ImageDataset.load(tmp_path / "data.npz")
    assert torch.equal(loaded.images, dataset.images) and torch.equal(loaded.labels, dataset.labels)
    assert (loaded.class_names, loaded.paths, loaded.skipped) == (dataset.class_names, dataset.paths,
                                                                   dataset.skipped)


def numbered_dataset(classes: int = 3, per_class: int = 20) -> ImageDataset:
    """Each image's pixels are its number, and so is its path: what belongs together can be checked after moves."""
    count = classes * per_class
    images = torch.arange(count, dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 3, 4, 4).contiguous()
    return ImageDataset(images, torch.arange(count) % classes, [f"class_{k}" for k in range(classes)],
                        [str(i) for i in range(count)], [])


def test_splits_are_views_of_the_dataset_reordered_in_place():
    dataset = numbered_dataset()
    pixels = dataset.images.data_ptr()

    splits = split_dataset(dataset, seed=4)

    assert dataset.images.data_ptr() == pixels  # no copy of the pixels was made
    assert splits.train.images.data_ptr() == splits.train_and_val.images.data_ptr() == pixels
    assert splits.train_and_val.paths == splits.train.paths + splits.val.paths
    assert dataset.paths == splits.train.paths + splits.val.paths + splits.test.paths
    for position, path in enumerate(dataset.paths):  # each image kept its own label and group
        assert (dataset.images[position] == int(path)).all()
        assert dataset.labels[position] == int(path) % 3 and dataset.groups[position] == int(path)


def test_pixels_loaded_into_a_file_are_mapped_from_it_and_a_split_reorders_them_there(tmp_path):
    numbered_dataset().save(tmp_path / "data.npz")

    dataset = ImageDataset.load(tmp_path / "data.npz", pixels_file=tmp_path / "pixels.npy")
    split_dataset(dataset, seed=4)

    on_disk = np.load(tmp_path / "pixels.npy")  # what the pages of the mapping hold
    assert torch.equal(torch.from_numpy(on_disk), dataset.images)
    assert [int(image[0, 0, 0]) for image in on_disk] == [int(path) for path in dataset.paths]
    assert dataset.paths != sorted(dataset.paths, key=int)  # it did move


def test_splitting_again_gives_the_parts_of_the_dataset_as_loaded():
    dataset, fresh = numbered_dataset(), numbered_dataset()
    split_dataset(dataset, seed=1)  # reorders the dataset: train | validation | test of seed 1

    again, expected = split_dataset(dataset, seed=2), split_dataset(fresh, seed=2)

    for name in ("train", "val", "test"):
        assert getattr(again, name).paths == getattr(expected, name).paths


def planted_duplicates(*, classes: int = 3, per_class: int = 30, pairs: int = 10, triples: int = 2) -> ImageDataset:
    """Each class: `pairs` near-copy pairs, then `triples` groups of three, then single images."""
    labels = torch.arange(classes).repeat_interleave(per_class)
    groups = torch.arange(len(labels))
    for k in range(classes):
        start = k * per_class
        for p in range(pairs):
            groups[start + 2 * p + 1] = groups[start + 2 * p]
        for t in range(triples):
            first = start + 2 * pairs + 3 * t
            groups[first + 1:first + 3] = groups[first]
    return ImageDataset(torch.zeros((len(labels), 1, 4, 4), dtype=torch.uint8), labels,
                        [f"class_{k}" for k in range(classes)], [f"{i}.png" for i in range(len(labels))], [], groups)


@pytest.mark.parametrize("seed", range(8))
def test_near_duplicates_never_straddle_splits(seed):
    dataset = planted_duplicates()

    splits = split_dataset(dataset, seed=seed)

    part_of = {path: name for name, part in (("train", splits.train), ("val", splits.val), ("test", splits.test))
               for path in part.paths}
    for group in dataset.groups.unique():
        members = torch.nonzero(dataset.groups == group).flatten().tolist()
        assert len({part_of[dataset.paths[i]] for i in members}) == 1
    assert len(part_of) == len(dataset)
    for part in (splits.val, splits.test):  # 30 x 15% = 4.5, rounded to 4 per class: whole groups fill 3 or 4
        assert all(3 <= count <= 4 for count in torch.bincount(part.labels).tolist())


@pytest.mark.parametrize("per_class", [3, 4, 7, 13, 20, 41])
def test_without_duplicates_each_class_gets_exactly_its_shares(per_class):
    dataset = planted_duplicates(per_class=per_class, pairs=0, triples=0)

    splits = split_dataset(dataset, seed=1)

    expected_test, expected_val = max(1, round(per_class * 0.15)), max(1, round(per_class * 0.15))
    assert torch.bincount(splits.test.labels).tolist() == [expected_test] * 3
    assert torch.bincount(splits.val.labels).tolist() == [expected_val] * 3


def test_a_class_made_of_one_group_of_copies_is_still_split():
    dataset = planted_duplicates(per_class=10, pairs=0, triples=0)
    dataset.groups[:10] = 0  # class_0 is ten copies of one photo

    splits = split_dataset(dataset, seed=0)

    for part in (splits.train, splits.val, splits.test):
        assert torch.bincount(part.labels, minlength=3).min() >= 1


def test_groups_survive_subset_and_save(tmp_path):
    dataset = planted_duplicates(per_class=6, pairs=2, triples=0)
    assert dataset.subset([0, 1, 2]).groups.tolist() == [0, 0, 2]

    dataset.save(tmp_path / "data.npz")

    assert torch.equal(ImageDataset.load(tmp_path / "data.npz").groups, dataset.groups)


def test_a_training_copy_saved_before_groups_existed_loads_with_one_group_per_image(tmp_path):
    dataset = planted_duplicates(per_class=5, pairs=2, triples=0)
    np.savez_compressed(tmp_path / "old.npz", images=dataset.images.numpy(), labels=dataset.labels.numpy(),
                        class_names=np.array(dataset.class_names), paths=np.array(dataset.paths),
                        skipped=np.empty((0, 2), dtype=str))

    assert ImageDataset.load(tmp_path / "old.npz").groups.tolist() == list(range(15))
