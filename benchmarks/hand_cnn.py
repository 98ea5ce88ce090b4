"""The plain CNN a competent engineer writes in an afternoon, in plain PyTorch, for search_quality's "cnn" row.

Three blocks of two 3x3 convolutions with batch norm and ReLU, max-pooling between them, global average pooling
and dropout before one linear layer; Adam with a one-cycle learning rate, label smoothing and random shifts of a
few pixels (plus horizontal flips for colour photos). Photos are shrunk to 64 px first, as one would to train on a
CPU. It trains on train+validation for as many epochs as the budget allows, timed on its first epoch. It shares
nothing with the engine but the split, so it cannot inherit the engine's mistakes.
"""

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

BATCH_SIZE = 64
LEARNING_RATE = 3e-3
MAX_SIDE = 64
# The timing epoch and test scoring come out of the budget too; plan the epochs on this share of it.
TIME_SHARE = 0.85


class HandCNN(nn.Module):
    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            )

        self.features = nn.Sequential(block(in_channels, 32), nn.MaxPool2d(2), block(32, 64), nn.MaxPool2d(2),
                                      block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def prepare(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> standardised floats, shrunk to MAX_SIDE."""
    x = images.float().div(255)
    if max(x.shape[-2:]) > MAX_SIDE:
        x = F.interpolate(x, size=(MAX_SIDE, MAX_SIDE), mode="bilinear", antialias=True, align_corners=False)
    return (x - mean) / std


def augment(batch: torch.Tensor, *, flip: bool) -> torch.Tensor:
    """Random shifts of up to 1/8 of the side (zero padding), and left-right flips for photos."""
    pad = max(1, batch.shape[-1] // 8)
    padded = F.pad(batch, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2,)).tolist()
    shifted = padded[..., dy:dy + batch.shape[-2], dx:dx + batch.shape[-1]]
    if flip:
        mirrored = torch.rand(len(batch)) < 0.5
        shifted = torch.where(mirrored[:, None, None, None], shifted.flip(-1), shifted)
    return shifted


def train_and_test(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
                   test_labels: torch.Tensor, *, num_classes: int, budget: float, seed: int) -> dict:
    """Train on (train_images, train_labels) within `budget` seconds and score on the test images."""
    started = time.monotonic()
    torch.manual_seed(seed)
    scaled = train_images.float().div(255)
    mean = scaled.mean(dim=(0, 2, 3), keepdim=True)
    std = scaled.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
    x, y = prepare(train_images, mean, std), train_labels
    colour = x.shape[1] == 3
    model = HandCNN(x.shape[1], num_classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    steps_per_epoch = math.ceil(len(x) / BATCH_SIZE)

    def run_epoch(schedule: torch.optim.lr_scheduler.LRScheduler | None) -> None:
        model.train()
        for batch in torch.randperm(len(x)).split(BATCH_SIZE):
            loss = F.cross_entropy(model(augment(x[batch], flip=colour)), y[batch], label_smoothing=0.1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if schedule is not None:
                schedule.step()

    # One epoch at a low constant rate times the rest (and warms the network up); then the planned schedule.
    for group in optimiser.param_groups:
        group["lr"] = LEARNING_RATE / 10
    epoch_started = time.monotonic()
    run_epoch(None)
    epoch_seconds = time.monotonic() - epoch_started
    epochs = max(1, int((TIME_SHARE * budget - (time.monotonic() - started)) / epoch_seconds))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=LEARNING_RATE, epochs=epochs,
                                                   steps_per_epoch=steps_per_epoch)
    for _ in range(epochs):
        run_epoch(schedule)
    model.eval()
    with torch.no_grad():
        test = prepare(test_images, mean, std)
        predictions = torch.cat([model(chunk).argmax(1) for chunk in test.split(256)])
    accuracy = (predictions == test_labels).float().mean().item()
    return {"test_accuracy": accuracy, "seconds": time.monotonic() - started, "trials": 1, "epochs": epochs + 1}
