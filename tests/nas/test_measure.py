"""Cost figures (parameters, FLOPs, latency, size) and the classification report are right."""

import pytest
import torch
from torch import nn

from apps.nas.build import build
from apps.nas.measure import count_flops, count_params, cpu_latency_ms, model_size_mb
from apps.nas.metrics import classification_report
from apps.nas.results import accuracy_interval
from apps.nas.space import baseline_genotype


def test_params_and_flops_of_a_known_layer():
    layer = nn.Conv2d(1, 4, 3, padding=1, bias=False)
    assert count_params(layer) == 36
    assert count_flops(layer, (1, 5, 5)) == 2 * 36 * 25  # a multiply-add per weight per output pixel


def test_bigger_networks_cost_more_everywhere():
    small, large = baseline_genotype(), baseline_genotype()
    for stage in large["stages"]:
        stage["width"] *= 2
    models = [build(genotype, (1, 16, 16), 10) for genotype in (small, large)]
    assert count_params(models[0]) < count_params(models[1])
    assert count_flops(models[0], (1, 16, 16)) < count_flops(models[1], (1, 16, 16))
    assert 0 < model_size_mb(models[0]) < model_size_mb(models[1])
    assert model_size_mb(models[0]) == pytest.approx(count_params(models[0]) * 4 / 1e6, rel=0.1)


def test_latency_is_positive_and_leaves_the_model_and_threads_alone():
    model = build(baseline_genotype(), (1, 8, 8), 10).train()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert cpu_latency_ms(model, (1, 8, 8)) > 0
        assert model.training and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_classification_report_counts_per_class():
    report = classification_report([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert report.accuracy == pytest.approx(0.6)
    assert report.confusion == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    a, b, c = report.per_class
    assert (a.precision, a.recall, a.support) == (0.5, 0.5, 2)
    assert b.precision == pytest.approx(2 / 3) and b.recall == 1.0 and b.f1 == pytest.approx(0.8)
    assert (c.precision, c.recall, c.f1) == (0.0, 0.0, 0.0)


def test_the_test_accuracy_comes_with_an_interval_that_narrows_with_more_images():
    low, high = accuracy_interval(32, 37)  # right 86 times out of 100 on 37 images
    assert round(100 * (high - low) / 2) == 11  # "give or take 11"
    assert low < 32 / 37 < high
    low_many, high_many = accuracy_interval(3200, 3700)
    assert high_many - low_many < (high - low) / 5
    assert accuracy_interval(50, 50)[1] == 1.0 and accuracy_interval(50, 50)[0] > 0.9
    assert classification_report([0, 1], [0, 0], ["a", "b"]).accuracy_low == pytest.approx(accuracy_interval(1, 2)[0])
