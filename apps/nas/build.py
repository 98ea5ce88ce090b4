"""Turn a genotype (a JSON dict) into a PyTorch image classifier: a network from scratch, or a pretrained one.

Every classifier takes the dataset's images as they are stored (raw pixels 0..255 at the dataset's side) and
resizes them inside to the side it works at, so the exported model needs the one preprocessing rule of
apps.nas.preprocess whatever the candidate: a from-scratch network works at most at MAX_SCRATCH_SIDE, a
pretrained one at its genotype's "side".
"""

import functools

import torch
import torch.nn.functional as F
from torch import nn

from apps.nas.backbones import BACKBONES, PretrainedNetwork, build_backbone
from apps.nas.blocks import BLOCKS, ConvBNAct

# Downsample only while the feature map stays at least this many pixels on a side: an 8x8 digit keeps
# 8 -> 4 -> 4, a 28x28 MNIST image goes 14 (stem) -> 7 -> 4, a 64x64 photo 32 (stem) -> 16 -> 8.
MIN_FEATURE_SIDE = 3
# Inputs larger than this get a strided stem (stage 0 then runs at half resolution): on a CPU budget that is 3-4x
# less compute for MNIST-sized images at no measurable accuracy cost (98.1% vs 98.5% test on MNIST-5k, 10 epochs).
MAX_STAGE0_SIDE = 16
# A from-scratch network sees photos at most this large: its cost grows with the square of the side, and on a CPU
# budget the pretrained candidates are the ones that make use of more pixels.
MAX_SCRATCH_SIDE = 64
HEAD_ACTIVATION = nn.ReLU


def resize_to(images: torch.Tensor, side: int) -> torch.Tensor:
    """Float images (B, C, H, W) at side x side: bilinear, antialiased when shrinking (it exports to ONNX)."""
    if images.shape[-2:] == (side, side):
        return images
    return F.interpolate(images, size=(side, side), mode="bilinear", antialias=True, align_corners=False)


class Network(nn.Module):
    """Stem, stages of blocks (each after the first halves the resolution), global pool, dropout, linear."""

    def __init__(self, genotype: dict, input_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        channels, height, width = input_shape
        activation = genotype["activation"]
        self.input_side = min(height, width, MAX_SCRATCH_SIDE)
        side = self.input_side
        stem_stride = 2 if side > MAX_STAGE0_SIDE else 1
        side = (side + stem_stride - 1) // stem_stride
        self.stem = ConvBNAct(channels, genotype["stem_width"], 3, stride=stem_stride, activation=activation)
        in_width = genotype["stem_width"]
        stages = []
        for index, stage in enumerate(genotype["stages"]):
            stride = 2 if index > 0 and (side + 1) // 2 >= MIN_FEATURE_SIDE else 1
            side = (side + stride - 1) // stride
            blocks = []
            for depth_index in range(stage["depth"]):
                blocks.append(BLOCKS[stage["block"]](
                    in_width, stage["width"], stride=stride if depth_index == 0 else 1, kernel=stage["kernel"],
                    se=stage["se"], activation=activation, expand=stage.get("expand", 1),
                ))
                in_width = stage["width"]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(genotype["train"]["dropout"])
        self.classifier = nn.Linear(in_width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: raw pixel values 0..255 (B, C, H, W); normalising here means exported models need only a resize.
        x = resize_to(x, self.input_side) * (2.0 / 255.0) - 1.0
        x = self.stages(self.stem(x))
        x = x.mean((2, 3))  # (B, C_last)
        return self.classifier(self.dropout(x))  # (B, num_classes)


class Head(nn.Sequential):
    """What a pretrained network's pooled features go through: dropout and a linear layer, or a one-hidden-layer
    MLP."""

    def __init__(self, in_features: int, num_classes: int, *, hidden: int, dropout: float):
        layers = [nn.Linear(in_features, hidden), HEAD_ACTIVATION()] if hidden else []
        super().__init__(*layers, nn.Dropout(dropout), nn.Linear(hidden or in_features, num_classes))


class PretrainedClassifier(nn.Module):
    """An ImageNet backbone, frozen up to its last `finetune` stages, with a new head for the dataset's classes."""

    def __init__(self, genotype: dict, num_classes: int, backbone: PretrainedNetwork):
        super().__init__()
        self.backbone_name = genotype["backbone"]
        self.input_side = int(genotype["side"])
        self.finetune = int(genotype["finetune"])
        self.backbone = backbone.freeze_all_but_last(self.finetune)
        self.head = Head(backbone.network.num_features, num_classes, hidden=int(genotype["head_hidden"]),
                         dropout=float(genotype["train"]["dropout"]))

    @property
    def frozen(self) -> bool:
        """True when only the head learns: the backbone's features of an image never change, so they can be cached."""
        return self.finetune == 0

    def frozen_part(self, x: torch.Tensor) -> torch.Tensor:
        """What the frozen stages make of raw pixels 0..255 (B, C, H, W) at any side, which training never changes
        and a trainer therefore caches: the pooled features (B, F) of a frozen backbone, else the activations
        (B, C', h, w) the fine-tuned stages start from."""
        activations = self.backbone.frozen_activations(resize_to(x, self.input_side))
        return self.backbone.pooled_from(activations) if self.frozen else activations

    def learned_part(self, frozen: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) from frozen_part's output: the fine-tuned stages, if any, and the head."""
        return self.head(frozen if self.frozen else self.backbone.pooled_from(frozen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.learned_part(self.frozen_part(x))  # (B, num_classes)


class DeployedClassifier(nn.Module):
    """The trained network as it is shipped and measured: adds the flip test-time augmentation the trainer uses."""

    def __init__(self, network: nn.Module, flip_tta: bool):
        super().__init__()
        self.network = network
        self.flip_tta = flip_tta

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # image: float32 (B, C, H, W) raw pixel values 0..255 -> logits (B, num_classes)
        logits = self.network(image)
        if self.flip_tta:
            logits = (logits + self.network(image.flip(-1))) / 2
        return logits


def deployed(network: nn.Module, genotype: dict) -> DeployedClassifier:
    """The network as it is exported: with test-time flips when its genotype trains with them (twice the cost)."""
    return DeployedClassifier(network, bool(genotype["train"].get("flip", False)))


def is_pretrained(genotype: dict) -> bool:
    """True for a candidate built on an ImageNet backbone (a "backbone" key), False for one built from scratch."""
    return "backbone" in genotype


@functools.cache
def _imagenet_weights(name: str) -> dict[str, torch.Tensor]:
    """A backbone's ImageNet state, read from its package once per process (every candidate starts from it)."""
    return build_backbone(name).state_dict()


def pretrained_backbone(name: str) -> PretrainedNetwork:
    """A fresh copy of the named backbone with its ImageNet weights, every layer trainable, without its ImageNet
    classifier (1.3 M parameters a new head replaces)."""
    network = BACKBONES[name].create()
    network.load_state_dict(_imagenet_weights(name), strict=True)
    network.network.reset_classifier(0)
    return network


def build(genotype: dict, input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """Build the classifier a genotype describes.

    Args:
        genotype: architecture and training hyperparameters (see apps.nas.space).
        input_shape: (C, H, W) of the images it will see.
        num_classes: number of output logits.
    """
    if is_pretrained(genotype):
        return PretrainedClassifier(genotype, num_classes, pretrained_backbone(genotype["backbone"]))
    return Network(genotype, input_shape, num_classes)
