"""Registry of the convolutional blocks a genotype's stages are built from."""

from collections.abc import Callable

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "hardswish": nn.Hardswish,
}

BLOCKS: dict[str, type[nn.Module]] = {}


def register_block(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Add a block class to BLOCKS under `name` (the value of a stage's "block" in a genotype)."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        BLOCKS[name] = cls
        return cls

    return add


class ConvBNAct(nn.Sequential):
    """Convolution, batch norm and (optionally) an activation; 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, stride: int = 1, groups: int = 1,
                 activation: str | None = "relu"):
        layers: list[nn.Module] = [
            # No bias: the batch norm right after it has one.
            nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if activation is not None:
            layers.append(ACTIVATIONS[activation]())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Channel attention: global pool -> bottleneck -> sigmoid gates that rescale each channel."""

    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        gate = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1)
        gate = self.expand(nn.functional.relu(self.reduce(gate)))
        return x * gate.sigmoid()


def squeeze_excite_or_identity(channels: int, se: bool, reference_channels: int | None = None) -> nn.Module:
    """SE sized at a quarter of `reference_channels` (the block's input width, as in MobileNetV3/EfficientNet)."""
    if not se:
        return nn.Identity()
    return SqueezeExcite(channels, max(4, (reference_channels or channels) // 4))


def shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when shapes match, else a strided 1x1 projection."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return ConvBNAct(in_channels, out_channels, 1, stride=stride, activation=None)


@register_block("plain")
class PlainBlock(nn.Module):
    """One k x k convolution (VGG style), optional SE."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int, kernel: int, se: bool, activation: str,
                 expand: int = 1):
        super().__init__()
        self.conv = ConvBNAct(in_channels, out_channels, kernel, stride=stride, activation=activation)
        self.se = squeeze_excite_or_identity(out_channels, se)

    def forward(self, x):
        return self.se(self.conv(x))


@register_block("residual")
class ResidualBlock(nn.Module):
    """ResNet basic block: two k x k convolutions plus a shortcut."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int, kernel: int, se: bool, activation: str,
                 expand: int = 1):
        super().__init__()
        self.conv1 = ConvBNAct(in_channels, out_channels, kernel, stride=stride, activation=activation)
        self.conv2 = ConvBNAct(out_channels, out_channels, kernel, activation=None)
        self.se = squeeze_excite_or_identity(out_channels, se)
        self.shortcut = shortcut(in_channels, out_channels, stride)
        self.act = ACTIVATIONS[activation]()

    def forward(self, x):
        return self.act(self.se(self.conv2(self.conv1(x))) + self.shortcut(x))


@register_block("mbconv")
class InvertedResidualBlock(nn.Module):
    """MobileNetV2/EfficientNet MBConv: 1x1 expand, depthwise k x k, SE, linear 1x1 projection."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int, kernel: int, se: bool, activation: str,
                 expand: int = 4):
        super().__init__()
        hidden = in_channels * expand
        self.expand = ConvBNAct(in_channels, hidden, 1, activation=activation) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNAct(hidden, hidden, kernel, stride=stride, groups=hidden, activation=activation)
        self.se = squeeze_excite_or_identity(hidden, se, reference_channels=in_channels)
        self.project = ConvBNAct(hidden, out_channels, 1, activation=None)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x):
        out = self.project(self.se(self.depthwise(self.expand(x))))
        return out + x if self.use_residual else out


@register_block("dwsep")
class DepthwiseSeparableBlock(nn.Module):
    """MobileNetV1 block: depthwise k x k then pointwise 1x1, each with batch norm and activation."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int, kernel: int, se: bool, activation: str,
                 expand: int = 1):
        super().__init__()
        self.depthwise = ConvBNAct(in_channels, in_channels, kernel, stride=stride, groups=in_channels,
                                   activation=activation)
        self.se = squeeze_excite_or_identity(in_channels, se)
        self.pointwise = ConvBNAct(in_channels, out_channels, 1, activation=activation)

    def forward(self, x):
        return self.pointwise(self.se(self.depthwise(x)))
