"""A block run on the first channels of a wider one computes what the narrower block of a genotype computes."""

import pytest
import torch

from apps.nas.blocks import BLOCKS
from apps.nas.sliced_blocks import sliced_block

# Built as the supernet builds a stage's first layer: from a wider input than its widest output (so a residual
# block has a projection), run with the input and output widths of a genotype, equal or not.
WIDEST_IN, WIDEST_OUT = 20, 16


def first_channels_of(wide: torch.nn.Module, narrow: torch.nn.Module) -> None:
    """Load into `narrow` the leading slice of each of `wide`'s tensors."""
    wide_state = wide.state_dict()
    narrow.load_state_dict({name: wide_state[name][tuple(slice(0, size) for size in tensor.shape)]
                            for name, tensor in narrow.state_dict().items()})


@pytest.mark.parametrize(("in_channels", "out_channels"), [(6, 8), (8, 8)])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(("block", "expand"), [("plain", 1), ("residual", 1), ("mbconv", 3), ("dwsep", 1)])
def test_a_sliced_block_computes_the_narrower_block(block, expand, stride, in_channels, out_channels):
    torch.manual_seed(0)
    options = {"stride": stride, "kernel": 3, "se": False, "activation": "relu", "expand": expand}
    wide = BLOCKS[block](WIDEST_IN, WIDEST_OUT, **options).eval()
    for module in wide.modules():  # batch-norm statistics that differ per channel, so a wrong slice shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    narrow = BLOCKS[block](in_channels, out_channels, **options).eval()
    first_channels_of(wide, narrow)
    x = torch.randn(2, in_channels, 9, 9)
    full = torch.randn(2, WIDEST_IN, 9, 9)

    with torch.no_grad():
        assert torch.allclose(sliced_block(wide, x, out_channels), narrow(x), atol=1e-5)
        assert torch.allclose(sliced_block(wide, full, WIDEST_OUT), wide(full), atol=1e-5)
