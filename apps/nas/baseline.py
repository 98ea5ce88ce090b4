"""The simple baseline a searched network is compared with: logistic regression on downscaled raw pixels.

It tells a user how much the search bought: "a simple method gets 88%, this model 98%". Cheap by design: images
are shrunk to at most 16x16, and one full-batch L-BFGS fit takes a second or two on a CPU.
"""

import torch
import torch.nn.functional as F

from apps.nas.data import ImageDataset

SIDE = 16  # pixels; the baseline sees at most 16x16 images
WEIGHT_DECAY = 1e-3
MAX_ITERATIONS = 200


def features(images: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float (N, C * s * s) with s = min(H, SIDE), scaled to 0..1; a chunk of images at a
    time, so photos at 224 px never exist as one float copy of the dataset (12 GB for 20,000 of them)."""
    rows = []
    for start in range(0, len(images), chunk):
        pixels = images[start:start + chunk].float() / 255
        if pixels.shape[-1] > SIDE:
            pixels = F.interpolate(pixels, size=(SIDE, SIDE), mode="area")
        rows.append(pixels.flatten(1))
    return torch.cat(rows)


def linear_baseline_accuracy(train: ImageDataset, test: ImageDataset, seed: int = 0) -> float:
    """Test accuracy of a logistic regression fitted on `train`.

    Args:
        train: the images the baseline learns from (the search's train + validation split).
        test: the held-out images it is scored on, the same the searched model is scored on.
        seed: fixes the initialisation.
    """
    torch.manual_seed(seed)
    x_train, x_test = features(train.images), features(test.images)
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-3)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    model = torch.nn.Linear(x_train.shape[1], train.num_classes)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=MAX_ITERATIONS, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x_train), train.labels) + WEIGHT_DECAY * model.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float((model(x_test).argmax(1) == test.labels).float().mean())
