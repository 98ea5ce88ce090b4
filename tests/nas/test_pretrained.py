"""Candidates built on a pretrained ImageNet backbone: cached frozen features, fine-tuning, resume, and a search on
real photos that starts with the frozen-feature probe."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import apps.nas.admission
import apps.nas.features
import apps.nas.search
import apps.nas.start_points
from apps.nas.build import build, deployed
from apps.nas.config import Constraints
from apps.nas.data import load_image_folder, split_dataset
from apps.nas.export import unpack_bundle
from apps.nas.features import CPU_BATCH_SIZE, PROJECT_AFTER_BATCHES, FeatureCache, FeaturesInterrupted
from apps.nas.search import run_search
from apps.nas.space import SearchSpace, baseline_genotype, probe_genotype
from apps.nas.strategies.base import fits_space
from apps.nas.train import Trainer
from tests.nas.tiny_search import EventLog, assert_scored_on_the_test_split, epochs_take, tiny_config

CALTECH = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "caltech10.zip"
PHOTO_CLASSES = ("airplanes", "Motorbikes", "watch")


def head_genotype(**train) -> dict:
    """A frozen Lite0 at 96 px with a linear head (the cheapest pretrained candidate)."""
    genotype = probe_genotype(SearchSpace(pretrained_sides=(96,)))
    genotype["train"].update({"epochs": 3, "batch_size": 16, **train})
    return genotype


@pytest.fixture
def colour_splits(make_image_folder):
    return split_dataset(load_image_folder(make_image_folder(classes=3, per_class=12, size=(14, 10), mode="RGB")),
                         seed=0)


def test_frozen_features_are_computed_once_per_image_and_view_and_shared_by_head_trials(colour_splits, tmp_path):
    train, val = colour_splits.train, colour_splits.val
    cache = FeatureCache(tmp_path / "features")
    Trainer(head_genotype(), train, val, device="cpu", seed=0, features=cache).fit()
    assert cache.computed == len(train) + len(val)
    # Another head, another seed, mirrored views: only the mirrored view is new.
    Trainer(head_genotype(lr=0.001, flip=True), train, val, device="cpu", seed=1, features=cache).fit()
    assert cache.computed == 2 * (len(train) + len(val))
    Trainer(head_genotype(dropout=0.4, flip=True), train, val, device="cpu", seed=2, features=cache).fit()
    assert cache.computed == 2 * (len(train) + len(val))
    # The final training's train+validation holds only known images: nothing to compute.
    Trainer(head_genotype(flip=True), colour_splits.train_and_val, None, device="cpu", seed=0, features=cache).fit()
    assert cache.computed == 2 * (len(train) + len(val))
    # A resumed run finds them on disk.
    reopened = FeatureCache(tmp_path / "features")
    Trainer(head_genotype(flip=True), train, val, device="cpu", seed=0, features=reopened).fit()
    assert reopened.computed == 0


def test_a_feature_pass_that_cannot_finish_in_the_time_left_stops_early_and_keeps_what_it_computed(colour_splits):
    cache = FeatureCache()
    model = build(head_genotype(), colour_splits.train.input_shape, colour_splits.train.num_classes)
    images = torch.randint(0, 256, (48, 3, 10, 14), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))

    with pytest.raises(FeaturesInterrupted, match="the rest would take about"):
        cache.features(model, images, seconds_left=lambda: 0.0)

    assert cache.computed == PROJECT_AFTER_BATCHES * CPU_BATCH_SIZE < len(images)
    cache.features(model, images, seconds_left=lambda: 3600.0)
    assert cache.computed == len(images)  # the features computed before the stop were kept


def test_a_head_trained_on_cached_features_is_the_shipped_model(colour_splits):
    trainer = Trainer(head_genotype(flip=True), colour_splits.train, colour_splits.val, device="cpu", seed=0)
    trainer.fit()
    shipped = deployed(trainer.model, trainer.genotype).eval()
    with torch.no_grad():
        direct = shipped(colour_splits.test.images.float())
    assert torch.allclose(trainer.predict_logits(colour_splits.test.images), direct, atol=1e-4)
    # Only the head is saved per epoch: the backbone's weights come from its package.
    assert set(trainer.state_dict()["model"]) == {"1.weight", "1.bias"}  # dropout, linear
    # Its validation passes read cached features: they say nothing of what scoring new photos costs.
    assert all(stats.eval_images_per_second is None for stats in trainer.history)


def test_fine_tuning_trains_only_the_last_stages_at_the_backbone_rate(colour_splits):
    genotype = head_genotype(backbone_lr=1e-4, augment=0.3, epochs=1)
    genotype["finetune"] = 1
    trainer = Trainer(genotype, colour_splits.train, colour_splits.val, device="cpu", seed=0)
    before = {name: value.clone() for name, value in trainer.model.backbone.state_dict().items()}
    trainer.run_epoch()
    after = trainer.model.backbone.state_dict()
    changed = {name.split(".")[1] for name in before if not torch.equal(before[name], after[name])}
    assert changed == {"conv_head", "bn2"}  # the last of the nine stages: the 1x1 head convolution
    rates = {group["lr"] / group["lr_scale"] for group in trainer.optimizer.param_groups}
    assert len(rates) == 1  # one schedule; the backbone's groups follow it at their scale
    assert {group["lr_scale"] for group in trainer.optimizer.param_groups} == {1.0, 1e-4 / genotype["train"]["lr"]}


def test_fine_tuning_the_last_stages_runs_the_frozen_ones_once_per_image_and_view_and_ships_the_same_model(
        colour_splits):
    genotype = head_genotype(backbone_lr=1e-3, flip=True, epochs=2)
    genotype["finetune"] = 3
    cache = FeatureCache()
    trainer = Trainer(genotype, colour_splits.train, colour_splits.val, device="cpu", seed=0, features=cache)
    before = {name: value.clone() for name, value in trainer.model.backbone.state_dict().items()}
    trainer.fit()
    assert trainer.cached
    assert cache.computed == 2 * (len(colour_splits.train) + len(colour_splits.val))  # both views, once
    after = trainer.model.backbone.state_dict()
    changed = {re.match(r"network\.(blocks\.\d+|\w+)", name)[1] for name in before
               if not torch.equal(before[name], after[name])}
    assert changed == {"blocks.5", "blocks.6", "conv_head", "bn2"}
    shipped = deployed(trainer.model, trainer.genotype).eval()
    with torch.no_grad():
        direct = shipped(colour_splits.test.images.float())
    assert torch.allclose(trainer.predict_logits(colour_splits.test.images), direct, atol=1e-4)
    assert cache.computed == 2 * (len(colour_splits.train) + len(colour_splits.val) + len(colour_splits.test))


def test_activations_too_large_to_cache_run_through_the_frozen_stages_every_step(colour_splits, monkeypatch):
    monkeypatch.setattr(apps.nas.features, "MAX_ACTIVATION_BYTES", 0)
    genotype = head_genotype(backbone_lr=1e-3, epochs=1)
    genotype["finetune"] = 3
    cache = FeatureCache()
    trainer = Trainer(genotype, colour_splits.train, colour_splits.val, device="cpu", seed=0, features=cache)
    trainer.fit()
    assert not trainer.cached and cache.computed == 0
    assert trainer.history[0].val_accuracy is not None and trainer.history[0].eval_images_per_second > 0


def test_a_killed_fine_tuning_resumes_bit_identically(colour_splits):
    genotype = head_genotype(backbone_lr=1e-4, augment=0.3, epochs=2)
    genotype["finetune"] = 3
    train, val = colour_splits.train, colour_splits.val
    uninterrupted = Trainer(genotype, train, val, device="cpu", seed=3)
    uninterrupted.fit()
    first = Trainer(genotype, train, val, device="cpu", seed=3)
    first.run_epoch()
    resumed = Trainer(genotype, train, val, device="cpu", seed=3)
    resumed.load_state_dict(first.state_dict())
    resumed.fit()
    assert [stats.val_accuracy for stats in resumed.history] == [stats.val_accuracy for stats in uninterrupted.history]
    assert torch.equal(resumed.predict_logits(colour_splits.test.images),
                       uninterrupted.predict_logits(colour_splits.test.images))


@pytest.fixture
def photos(tmp_path) -> Path:
    """20 real photos of each of three Caltech-101 classes, of varied size and aspect, as class folders."""
    if not CALTECH.exists():
        pytest.skip(f"needs the shared photo datasets ({CALTECH})")
    root = tmp_path / "photos"
    with zipfile.ZipFile(CALTECH) as archive:
        names = sorted(name for name in archive.namelist() if name.lower().endswith(".jpg"))
        for label in PHOTO_CLASSES:
            for name in [name for name in names if f"/{label}/" in name][:20]:
                target = root / label / Path(name).name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    return root


def test_auto_on_photos_starts_with_the_frozen_probe_and_ships_a_pretrained_model(photos, tmp_path):
    log = EventLog()
    config = tiny_config(strategy="auto", space=SearchSpace(max_epochs=10), budget_seconds=60.0, export=True)
    result = run_search(config, photos, tmp_path / "work", on_event=log)
    assert result.summary.input_shape == [3, 224, 224]  # photos are kept at the pretrained networks' side
    first = log.of_type("trial_started")[0]
    assert first["genotype"] == probe_genotype(SearchSpace(max_epochs=10))
    assert "backbone" in result.best.genotype
    assert result.best.genotype_summary.startswith("EfficientNet-Lite")
    assert_scored_on_the_test_split(result)
    assert result.test_report.accuracy >= 0.85  # airplanes, motorbikes and watches: ImageNet knows them well
    assert result.summary.onnx_parity.prediction_agreement == 1.0
    assert result.summary.elapsed_seconds <= 60.0 * 1.05

    # The bundle's predict.py, on the original photos of every shape, gives the engine's labels.
    dataset = load_image_folder(photos)
    chosen = list(range(0, len(dataset), 7))
    genotype = json.loads(Path(result.files["genotype"]).read_text())
    model = deployed(build(genotype, dataset.input_shape, dataset.num_classes), genotype).eval()
    model.network.load_state_dict(torch.load(result.files["weights"], weights_only=True))
    with torch.no_grad():
        engine_labels = model(dataset.images[chosen].float()).argmax(1).tolist()
    bundle = unpack_bundle(result.files["bundle"], tmp_path / "bundle")
    paths = [str(photos / dataset.paths[index]) for index in chosen]
    completed = subprocess.run([sys.executable, str(bundle / "predict.py"), *paths], capture_output=True, text=True,
                               check=True, timeout=300)
    bundle_labels = [line.split("\t")[1] for line in completed.stdout.strip().splitlines()]
    assert bundle_labels == [dataset.class_names[label] for label in engine_labels]


def test_a_burst_of_load_in_one_timed_batch_does_not_price_the_probe_out(make_image_folder, monkeypatch):
    """The probe's pass is priced by the fastest of its timed batches: one slowed by another process says little of
    the pass."""
    splits = split_dataset(load_image_folder(make_image_folder(classes=3, per_class=20, size=(14, 10), mode="RGB")),
                           seed=0)
    data = splits.train_and_val
    probe = head_genotype()
    model = build(probe, data.input_shape, data.num_classes)
    clock = SimpleNamespace(now=0.0, calls=0)
    frozen_part = model.frozen_part

    def ten_ms_an_image_and_a_burst(images):  # the third call: the second timed batch, after the setup batch
        clock.calls += 1
        clock.now += 0.01 * len(images) + (3.0 if clock.calls == 3 else 0.0)
        return frozen_part(images)

    model.frozen_part = ten_ms_an_image_and_a_burst
    monkeypatch.setattr(apps.nas.start_points, "build", lambda *args: model)
    monkeypatch.setattr(apps.nas.start_points, "time", SimpleNamespace(monotonic=lambda: clock.now))
    priced = []
    run = SimpleNamespace(device="cpu", splits=splits, strategy=SimpleNamespace(probe=probe), features=FeatureCache(),
                          clock=SimpleNamespace(probe_affordable=lambda seconds: priced.append(seconds) or True))

    assert apps.nas.start_points.probe_affordable(run)
    assert clock.calls > 3
    assert priced == [pytest.approx(0.01 * len(data))]


def test_candidates_too_slow_for_the_time_left_are_skipped_untrained_on_a_cpu(colour_splits, monkeypatch, tmp_path):
    measure = apps.nas.admission.deployment_costs

    def slow_when_fine_tuned(network, genotype, input_shape):
        costs = measure(network, genotype, input_shape)
        return {**costs, "latency_ms": 10_000.0} if genotype.get("finetune") else costs

    monkeypatch.setattr(apps.nas.admission, "deployment_costs", slow_when_fine_tuned)
    space = SearchSpace(backbones=("lite0",), finetune_stages=(0, 9), pretrained_sides=(96,), min_epochs=2,
                        max_epochs=3)
    data = colour_splits.train_and_val
    config = tiny_config(space=space, budget_seconds=20.0, max_trials=2, device="cpu")
    result = run_search(config, data, tmp_path / "work")
    skipped = [row for row in result.leaderboard if row.status == "infeasible"]
    trained = [row for row in result.leaderboard if row.epochs]
    assert trained and all(row.genotype.get("finetune") == 0 for row in trained if "backbone" in row.genotype)
    assert skipped and all(row.reason.startswith("too slow for the time left") for row in skipped)
    assert all(row.genotype["finetune"] == 9 for row in skipped)


def test_a_fine_tune_of_the_last_stages_is_not_judged_by_the_whole_networks_speed(colour_splits, monkeypatch,
                                                                                 tmp_path):
    """Its frozen stages run once per image, then its epochs run the last stages alone: the whole network's latency
    says nothing about its epoch."""
    measure = apps.nas.admission.deployment_costs
    # Half a second an image: epochs of the whole network would not fit the search twice, yet the few test images
    # are scored in seconds (the run keeps that time for its end).
    monkeypatch.setattr(apps.nas.admission, "deployment_costs",
                        lambda *args: {**measure(*args), "latency_ms": 500.0})
    space = SearchSpace(backbones=("lite0",), finetune_stages=(3,), pretrained_sides=(96,), min_epochs=2,
                        max_epochs=3)
    config = tiny_config(strategy="auto", space=space, budget_seconds=20.0, max_trials=1, device="cpu")
    result = run_search(config, colour_splits.train_and_val, tmp_path / "work")
    [fine_tuned] = [row for row in result.leaderboard if row.origin == "finetune"]
    assert fine_tuned.epochs > 0 and fine_tuned.genotype["finetune"] == 3


def test_a_fine_tune_whose_pass_and_epochs_would_not_fit_is_skipped_before_its_pass(colour_splits, monkeypatch,
                                                                                   tmp_path):
    """Its frozen stages' pass and its first epoch took a third of a EuroSAT run before the clock stopped it: timed on
    a batch first, a fine-tune that cannot cache its input and train its least epochs in the time left never starts,
    and the search keeps that time."""
    monkeypatch.setattr(apps.nas.admission, "cached_training_seconds", lambda run, genotype, model: (30.0, 1000.0))
    space = SearchSpace(backbones=("lite0",), finetune_stages=(0, 3), pretrained_sides=(96,), min_epochs=2,
                        max_epochs=3)
    config = tiny_config(strategy="auto", space=space, budget_seconds=60.0, max_trials=2, device="cpu")
    result = run_search(config, colour_splits.train_and_val, tmp_path / "work")

    [probe, fine_tuned, *searched] = sorted(result.leaderboard, key=lambda row: row.id)
    assert probe.origin == "probe" and probe.status == "complete"
    assert fine_tuned.origin == "finetune" and fine_tuned.status == "infeasible"
    assert fine_tuned.epochs == 0 and fine_tuned.seconds == 0.0  # skipped before its pass
    assert re.match(r"too slow for the time left: caching its frozen stages' output would take about 30 s and 2 "
                    r"epochs on it about 2000 s, and \d+ s of search are left", fine_tuned.reason)
    assert any(row.status == "complete" for row in searched)  # the search had the time instead


def test_a_fine_tunes_pass_is_timed_only_for_the_images_not_yet_cached(colour_splits, tmp_path):
    genotype = probe_genotype(SearchSpace(pretrained_sides=(96,)))
    genotype.update(finetune=3)
    genotype["train"].update(batch_size=8, flip=False, backbone_lr=0.0001)
    run = SimpleNamespace(splits=colour_splits, features=FeatureCache())
    model = apps.nas.admission.cached_model(run, genotype)

    features_seconds, epoch_seconds = apps.nas.admission.cached_training_seconds(run, genotype, model)
    assert features_seconds > 0 and epoch_seconds > 0
    Trainer(genotype, colour_splits.train, colour_splits.val, device="cpu", seed=0, features=run.features).run_epoch()
    assert apps.nas.admission.cached_training_seconds(run, genotype, model)[0] == 0.0


def test_the_fine_tuning_start_point_trains_for_what_the_time_left_buys(colour_splits, monkeypatch, tmp_path):
    """Once its first epoch is timed, its schedule shrinks to fit the time left: it finishes and competes, where
    at full length it would be stopped after that epoch (EuroSAT on a CPU: 1 of 10 epochs, at 89%)."""
    epochs_take(monkeypatch, 6.0, of=lambda genotype: genotype.get("finetune") == 3)
    space = SearchSpace(backbones=("lite0",), finetune_stages=(0, 3), pretrained_sides=(96,), min_epochs=2,
                        max_epochs=10)
    config = tiny_config(strategy="auto", space=space, budget_seconds=60.0, max_trials=2, device="cpu")
    result = run_search(config, colour_splits.train_and_val, tmp_path / "work")
    [fine_tuned] = [row for row in result.leaderboard if row.origin == "finetune"]
    assert space.min_epochs <= fine_tuned.planned_epochs < 10
    assert fine_tuned.status == "complete" and fine_tuned.epochs == fine_tuned.planned_epochs


def test_the_recipe_is_skipped_when_the_time_left_buys_too_few_of_its_epochs(colour_splits, monkeypatch, tmp_path):
    """After the probe and the fine-tuning recipe on photos, a from-scratch recipe that could train only a few epochs
    would spend the search's time for nothing: it is recorded as skipped, with the reason."""
    monkeypatch.setattr(apps.nas.start_points, "probe_epoch_seconds", lambda run: 12.0)
    space = SearchSpace(backbones=("lite0",), finetune_stages=(0, 3), pretrained_sides=(96,), min_epochs=3)
    config = tiny_config(strategy="auto", space=space, budget_seconds=60.0, max_trials=3, device="cpu")
    result = run_search(config, colour_splits.train_and_val, tmp_path / "work")
    by_id = sorted(result.leaderboard, key=lambda row: row.id)
    assert [row.origin for row in by_id][:3] == ["probe", "finetune", "recipe"]
    recipe = by_id[2]
    assert recipe.status == "infeasible" and recipe.epochs == 0
    assert recipe.reason.startswith("too little time left")


def test_a_size_limit_below_every_backbone_keeps_the_search_to_networks_from_scratch(colour_splits, tmp_path):
    space = SearchSpace(widths=(8, 16), stem_widths=(8,), max_stages=2, max_depth=1, batch_sizes=(16,),
                        min_epochs=2, max_epochs=3)
    data = colour_splits.train_and_val
    log = EventLog()
    config = tiny_config(strategy="auto", space=space, constraints=Constraints(max_model_mb=5.0), max_trials=3)
    result = run_search(config, data, tmp_path / "work", on_event=log)
    # Not even measured: the smallest backbone alone is 13.7 MB.
    assert all("backbone" not in event["genotype"] for event in log.of_type("trial_started"))
    assert result.best.size_mb <= 5.0


def test_early_stopping_never_judges_autos_start_points(colour_splits, monkeypatch, tmp_path):
    judged = {}
    train_candidate = apps.nas.search.train_candidate

    def recording(trial, trainer, **options):
        judged[trial.number] = (trainer.genotype, options["pruning"])
        return train_candidate(trial, trainer, **options)

    monkeypatch.setattr(apps.nas.search, "train_candidate", recording)
    space = SearchSpace(widths=(8, 16), stem_widths=(8,), max_stages=2, max_depth=1, batch_sizes=(16,),
                        min_epochs=2, max_epochs=3, backbones=("lite0",), finetune_stages=(0,),
                        pretrained_sides=(96,))
    data = colour_splits.train_and_val
    run_search(tiny_config(strategy="auto", space=space, max_trials=4), data, tmp_path / "work")
    # The recipe's widths are not in this small space: the frozen-feature probe is the one start point.
    assert not fits_space(space, baseline_genotype())
    assert judged[0][0] == probe_genotype(space)
    assert [judged[number][1] for number in sorted(judged)] == [False] + [True] * (len(judged) - 1)
