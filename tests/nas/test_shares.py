"""Small datasets give the test split a larger share, so the test figure rests on enough images to mean something."""

from apps.nas.shares import MAX_TEST_FRACTION, MIN_TEST_IMAGES, TEST_FRACTION, fraction_to_test, held_out


def test_a_large_dataset_keeps_the_usual_test_share():
    assert fraction_to_test(10_000) == TEST_FRACTION == fraction_to_test(200)


def test_a_small_dataset_gets_enough_test_images_up_to_a_cap():
    assert round(fraction_to_test(150) * 150) == MIN_TEST_IMAGES  # 20% instead of 15%
    assert fraction_to_test(100) == MAX_TEST_FRACTION
    assert fraction_to_test(20) == MAX_TEST_FRACTION  # training keeps more than half of every class


def test_asking_for_no_test_split_or_a_large_one_is_respected():
    assert fraction_to_test(50, test_fraction=0) == 0
    assert fraction_to_test(50, test_fraction=0.4) == 0.4


def test_every_held_out_share_takes_at_least_one_image():
    assert held_out(3, 0.15) == 1 and held_out(40, 0.15) == 6 and held_out(40, 0) == 0
