"""The trainer learns, is reproducible under a seed, resumes bit-identically and stops when asked."""

import time

import pytest
import torch

from apps.nas.data import split_dataset
from apps.nas.space import baseline_genotype
from apps.nas.train import Trainer, TrainingInterrupted, augment_batch, cpu_has_fast_bf16, one_cycle_lr


def small_genotype(epochs: int = 4, **train) -> dict:
    genotype = baseline_genotype(epochs=epochs)
    genotype["stem_width"] = 8
    genotype["stages"] = [{"block": "residual", "depth": 1, "width": width, "kernel": 3, "se": False, "expand": 1}
                          for width in (8, 16)]
    genotype["train"].update({"batch_size": 16, "lr": 0.05, **train})
    return genotype


@pytest.fixture
def splits(tiny_dataset):
    return split_dataset(tiny_dataset, seed=0)


def test_it_learns_a_trivially_separable_dataset(splits):
    trainer = Trainer(small_genotype(epochs=8, batch_size=8), splits.train, splits.val, device="cpu", seed=0)
    history = trainer.fit()
    assert len(history) == 8 and trainer.epochs_done == 8
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].val_accuracy >= 0.9
    assert all(stats.eval_images_per_second > 0 for stats in history)  # the pace of a whole network, batched
    logits = trainer.predict_logits(splits.test.images)
    assert logits.shape == (len(splits.test), 3)
    assert (logits.argmax(1) == splits.test.labels).float().mean() >= 0.9


def test_it_is_deterministic_under_a_seed_on_cpu(splits):
    runs = [Trainer(small_genotype(epochs=2, dropout=0.2), splits.train, splits.val, device="cpu", seed=5)
            for _ in range(2)]
    histories = [[(s.train_loss, s.val_loss) for s in run.fit()] for run in runs]
    assert histories[0] == histories[1]
    for a, b in zip(runs[0].model.state_dict().values(), runs[1].model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    other_seed = Trainer(small_genotype(epochs=2, dropout=0.2), splits.train, splits.val, device="cpu", seed=6)
    assert [s.train_loss for s in other_seed.fit()] != [loss for loss, _ in histories[0]]


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_a_resumed_trainer_matches_an_uninterrupted_one_bit_for_bit(splits, tmp_path, optimizer):
    genotype = small_genotype(epochs=3, dropout=0.3, augment=0.8, flip=True, optimizer=optimizer)
    uninterrupted = Trainer(genotype, splits.train, splits.val, device="cpu", seed=1)
    expected = [(s.train_loss, s.val_accuracy) for s in uninterrupted.fit()]

    first = Trainer(genotype, splits.train, splits.val, device="cpu", seed=1)
    first.run_epoch()
    torch.save(first.state_dict(), tmp_path / "checkpoint.pt")
    torch.rand(100)  # other work between the kill and the resume must not matter
    resumed = Trainer(genotype, splits.train, splits.val, device="cpu", seed=1)
    resumed.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True))
    resumed.fit()

    assert resumed.epochs_done == 3
    assert [(s.train_loss, s.val_accuracy) for s in resumed.history] == expected
    for a, b in zip(uninterrupted.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_should_stop_interrupts_an_epoch_within_a_fraction_of_a_second_however_slow_its_steps(splits, monkeypatch):
    calls = []

    def stop_on_second_poll() -> bool:
        calls.append(1)
        return len(calls) >= 2

    trainer = Trainer(small_genotype(batch_size=4), splits.train, None, device="cpu", seed=0,
                      should_stop=stop_on_second_poll)
    batches = []
    training_batch = trainer._training_batch

    def slow_batch(*args):  # a large network's step on a CPU
        batches.append(1)
        time.sleep(0.1)
        return training_batch(*args)

    monkeypatch.setattr(trainer, "_training_batch", slow_batch)
    with pytest.raises(TrainingInterrupted):
        trainer.run_epoch()
    assert trainer.epochs_done == 0
    # Polled at the epoch's start, then again once STOP_CHECK_SECONDS (0.25 s) had passed: by the fourth step.
    assert len(calls) == 2 and len(batches) <= 3 < trainer.steps_per_epoch


def test_it_trains_without_a_validation_set(splits):
    stats = Trainer(small_genotype(epochs=1), splits.train, None, device="cpu", seed=0).run_epoch()
    assert stats.val_accuracy is None and stats.val_loss is None
    assert stats.images_per_second > 0


def test_augmentation_at_strength_zero_changes_nothing_and_flip_mirrors():
    images = torch.rand(64, 3, 6, 6)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(augment_batch(images, 0.0, False, generator), images)
    flipped = augment_batch(images, 0.0, True, generator)
    mirrored = torch.isclose(flipped, images.flip(-1), atol=1e-5).flatten(1).all(1)
    unchanged = torch.isclose(flipped, images, atol=1e-5).flatten(1).all(1)
    assert (mirrored | unchanged).all() and mirrored.any() and unchanged.any()
    shifted = augment_batch(images, 1.0, False, generator)
    assert shifted.shape == images.shape and not torch.allclose(shifted, images)


def test_learning_rate_warms_up_then_decays_to_zero():
    rates = [one_cycle_lr(step, 100, 0.1) for step in range(100)]
    assert rates[0] < rates[9] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:], strict=False))
    assert one_cycle_lr(100, 100, 0.1) == pytest.approx(0.0)


def test_a_schedule_with_a_partial_last_epoch_trains_its_share_of_the_batches_and_ends_with_it(splits, monkeypatch):
    trainer = Trainer(small_genotype(epochs=4, batch_size=4), splits.train, splits.val, device="cpu", seed=0)
    per_epoch = trainer.steps_per_epoch
    assert per_epoch >= 4
    trainer.schedule_in_steps(per_epoch + per_epoch // 2)
    assert (trainer.total_epochs, trainer.schedule_steps) == (2, per_epoch + per_epoch // 2)
    batches = []
    training_batch = trainer._training_batch
    monkeypatch.setattr(trainer, "_training_batch", lambda *args: batches.append(1) or training_batch(*args))
    trainer.fit()

    assert len(trainer.history) == 2 and len(batches) == per_epoch + per_epoch // 2
    total = trainer.schedule_steps
    # The learning rate decays to zero over the partial epoch, as over a whole one.
    assert trainer.history[-1].lr == pytest.approx(one_cycle_lr(total - 1, total, 0.05))
    trainer.schedule_in_steps(2 * per_epoch)
    assert (trainer.total_epochs, trainer.last_epoch_steps) == (2, per_epoch)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_it_trains_on_the_gpu_with_channels_last_and_bf16(splits, tmp_path):
    trainer = Trainer(small_genotype(epochs=2), splits.train, splits.val, device="cuda", seed=0)
    stats = trainer.run_epoch()
    assert trainer.use_bf16 and next(trainer.model.parameters()).is_cuda
    assert stats.val_accuracy is not None
    torch.save(trainer.state_dict(), tmp_path / "checkpoint.pt")
    resumed = Trainer(small_genotype(epochs=2), splits.train, splits.val, device="cuda", seed=0)
    resumed.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True))
    assert resumed.run_epoch().epoch == 2
    assert trainer.predict_logits(splits.test.images).shape == (len(splits.test), 3)


def test_cpu_bf16_is_used_only_for_networks_it_speeds_up(splits):
    dense = Trainer(small_genotype(), splits.train, None, device="cpu", seed=0)
    depthwise_genotype = small_genotype()
    depthwise_genotype["stages"][0]["block"] = "dwsep"
    depthwise = Trainer(depthwise_genotype, splits.train, None, device="cpu", seed=0)
    assert dense.use_bf16 == cpu_has_fast_bf16()
    assert depthwise.use_bf16 is False
