import torch

from apps.nas.baseline import linear_baseline_accuracy
from apps.nas.data import ImageDataset, split_dataset


def test_the_baseline_learns_an_easy_dataset(tiny_dataset):
    splits = split_dataset(tiny_dataset, seed=0)

    accuracy = linear_baseline_accuracy(splits.train_and_val, splits.test)

    assert accuracy >= 0.9


def test_the_baseline_is_at_chance_on_noise():
    generator = torch.Generator().manual_seed(0)
    noise = ImageDataset(torch.randint(0, 256, (400, 1, 8, 8), dtype=torch.uint8, generator=generator),
                         torch.randint(0, 4, (400,), generator=generator), ["a", "b", "c", "d"], [""] * 400, [])

    accuracy = linear_baseline_accuracy(noise.subset(range(300)), noise.subset(range(300, 400)))

    assert accuracy < 0.45, "random labels cannot be learned: anything well above 25% would be a leak"
