"""How a dataset is shared out between training, validation and test, without PyTorch so the data report can
predict the engine's split from the class counts alone."""

# Shares of each class's images the search validates candidates on and keeps away for the final test; it trains
# candidates on the rest.
VAL_FRACTION = 0.15
TEST_FRACTION = 0.15
TRAIN_FRACTION = 1 - VAL_FRACTION - TEST_FRACTION

# A test figure from 30 images has a 95% interval of about +-14 points around 80% accuracy; 15% of a 60-image
# dataset (9 images) would give +-25, too wide to tell a good model from a poor one. So small datasets give the
# test a larger share, up to MAX_TEST_FRACTION, which still leaves training more than half of every class.
MIN_TEST_IMAGES = 30
MAX_TEST_FRACTION = 0.3


def fraction_to_test(num_images: int, test_fraction: float = TEST_FRACTION) -> float:
    """The test share a dataset of `num_images` gets: `test_fraction`, grown towards MIN_TEST_IMAGES if small.

    Args:
        num_images: readable images in the whole dataset.
        test_fraction: the share asked for; 0 keeps no test split at all.
    """
    if test_fraction <= 0:
        return 0.0
    return max(test_fraction, min(MAX_TEST_FRACTION, MIN_TEST_IMAGES / max(num_images, 1)))


def held_out(count: int, fraction: float) -> int:
    """Images of a class of `count` that a split share `fraction` takes: at least one when the share is > 0."""
    return max(1, round(count * fraction)) if fraction > 0 else 0
