"""Run a block of apps.nas.blocks at fewer channels than it was built with, on the first channels of its weights.

This is how the supernet's widths share weights (slimmable networks, Yu et al. 2019; Once-for-All, Cai et al.
2020): a layer slot is built once at the space's widest width, and a path of width w runs the first w filters of
each convolution (and of its batch norm), with the input's own channel count. The sliced block computes exactly
the block a genotype of that width builds (an mbconv's expanded layer is the input's channels times its ratio),
and costs what that block costs. Squeeze-excitation is not supported: the supernet builds its blocks without it.
"""

import torch
from torch import nn
from torch.nn import functional as F

from apps.nas.blocks import (
    ConvBNAct,
    DepthwiseSeparableBlock,
    InvertedResidualBlock,
    PlainBlock,
    ResidualBlock,
)


def conv_bn_act(layer: ConvBNAct, x: torch.Tensor, out_channels: int) -> torch.Tensor:
    """The layer on x's channels, with out_channels outputs (a depthwise layer keeps x's channel count)."""
    conv, norm = layer[0], layer[1]
    channels = x.shape[1]
    if conv.groups > 1:  # depthwise: one filter per input channel
        weight, groups, out_channels = conv.weight[:channels], channels, channels
    else:
        weight, groups = conv.weight[:out_channels, :channels], 1
    y = F.conv2d(x, weight, None, conv.stride, conv.padding, 1, groups)
    # Slices of the running statistics are views: batch norm updates the widest layer's buffers in place.
    y = F.batch_norm(y, norm.running_mean[:out_channels], norm.running_var[:out_channels],
                     norm.weight[:out_channels], norm.bias[:out_channels], norm.training, norm.momentum, norm.eps)
    return layer[2](y) if len(layer) > 2 else y


def shortcut(projection: nn.Module, x: torch.Tensor, out_channels: int, stride: int) -> torch.Tensor:
    """A residual block's shortcut: identity when the shapes match, else its strided 1x1 projection (which the
    block must have: see apps.nas.supernet.SuperStage)."""
    if stride == 1 and x.shape[1] == out_channels:
        return x
    return conv_bn_act(projection, x, out_channels)


def sliced_block(block: nn.Module, x: torch.Tensor, out_channels: int) -> torch.Tensor:
    """The block on x's channels with out_channels outputs; (B, C_in, H, W) -> (B, out_channels, H', W')."""
    if isinstance(block, PlainBlock):
        return conv_bn_act(block.conv, x, out_channels)
    if isinstance(block, ResidualBlock):
        stride = block.conv1[0].stride[0]
        y = conv_bn_act(block.conv2, conv_bn_act(block.conv1, x, out_channels), out_channels)
        return block.act(y + shortcut(block.shortcut, x, out_channels, stride))
    if isinstance(block, InvertedResidualBlock):
        hidden = x if isinstance(block.expand, nn.Identity) else conv_bn_act(
            block.expand, x, x.shape[1] * block.expand[0].out_channels // block.expand[0].in_channels)
        y = conv_bn_act(block.project, conv_bn_act(block.depthwise, hidden, hidden.shape[1]), out_channels)
        residual = block.depthwise[0].stride[0] == 1 and x.shape[1] == out_channels
        return y + x if residual else y
    if isinstance(block, DepthwiseSeparableBlock):
        return conv_bn_act(block.pointwise, conv_bn_act(block.depthwise, x, x.shape[1]), out_channels)
    raise TypeError(f"No sliced forward pass for {type(block).__name__}")
