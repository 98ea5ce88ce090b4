"""The final training when a retrain from scratch no longer fits: the best candidate's own training continues on
train+validation (a fine-tuned start point that took half the budget on photos), and the search keeps the time a
retrain would have had."""

import math
from dataclasses import replace

import pytest
import torch

from apps.nas.budget import (
    CONTINUED_LR_SHARE,
    FINAL_SETUP_SECONDS,
    RETRAIN_MARGIN,
    continued_steps,
    search_deadline,
)
from apps.nas.checkpoint import SearchFiles, load_torch
from apps.nas.search import run_search
from tests.nas.test_recipe_only import SimulatedKill
from tests.nas.tiny_search import TINY_SPACE, EventLog, epochs_take, tiny_config

# Each epoch of every candidate reports this long (they take milliseconds): a retrain of the searched 8 epochs
# would take more than the whole 60 s budget, while a few epochs of continuing fit.
EPOCH_SECONDS = 8.0
SEARCHED_EPOCHS = 8


def test_the_search_keeps_the_retrains_time_only_while_the_retrain_still_fits():
    plan = {"total_seconds": 300.0, "finish_seconds": 40.0, "final_epoch_seconds": 16.0, "best_epochs": 7}
    retrain = RETRAIN_MARGIN * 16.0 * 7
    early = search_deadline(elapsed_seconds=60.0, **plan)
    assert early <= 300.0 - 40.0 - retrain - FINAL_SETUP_SECONDS
    # A start point that ran past the deadline: the retrain cannot fit any more, so only the continued training's
    # epochs are kept from the search, which is not stopped for a retrain that will never run.
    late = search_deadline(elapsed_seconds=170.0, **plan)
    assert late == 300.0 - 40.0 - RETRAIN_MARGIN * 16.0 * math.ceil(7 / 2) - FINAL_SETUP_SECONDS
    assert late > 170.0 > early


def test_the_continued_training_takes_the_batches_that_fit_up_to_the_searched_schedule_again():
    def steps(epoch_seconds, seconds_left, searched_epochs=7):
        return continued_steps(searched_epochs=searched_epochs, epoch_seconds=epoch_seconds, seconds_left=seconds_left,
                               steps_per_epoch=10)

    assert steps(10.0, 1000.0) == 70
    assert steps(10.0, 25.0) == 22  # 10% margin: 2.27 epochs
    assert steps(10.0, 5.5) == 5  # half an epoch: its time buys part of one
    assert steps(10.0, 0.5) == 0  # not one batch
    assert steps(0.0, 1000.0) == 0  # nothing planned
    # A search that ended past its deadline (a slow candidate's last steps): the end reports no final training,
    # not one of -22 epochs.
    assert steps(0.1, -2.4, searched_epochs=32) == 0


def slow_epochs_config():
    space = replace(TINY_SPACE, min_epochs=SEARCHED_EPOCHS, max_epochs=SEARCHED_EPOCHS, optimizers=("sgd",))
    return tiny_config(max_trials=1, budget_seconds=60.0, space=space, export=True)


def test_a_best_candidate_too_slow_to_retrain_continues_its_training_on_train_and_validation(
        make_image_folder, monkeypatch, tmp_path):
    epochs_take(monkeypatch, EPOCH_SECONDS, of=lambda genotype: True)
    log = EventLog()
    result = run_search(slow_epochs_config(), make_image_folder(), tmp_path, on_event=log)

    [candidate] = result.leaderboard
    assert candidate.epochs == SEARCHED_EPOCHS
    assert result.summary.continued and not result.summary.retrained
    [started] = log.of_type("final_training_started")
    assert started["retrain"] and started["reason"].startswith("continuing its training")
    final = [event for event in log.of_type("epoch_finished") if event["phase"] == "final"]
    # Planned from the searched epochs' 8 s, then again from its real epochs (milliseconds): up to the searched
    # schedule again, as the time left allows.
    assert 1 <= started["epochs"] <= len(final) == final[-1]["total_epochs"] <= SEARCHED_EPOCHS
    assert result.best.final_epochs == SEARCHED_EPOCHS + len(final)
    # It starts from the candidate's trained weights, at a fraction of its learning rate: the shipped weights are
    # close to the candidate's (a network trained again from a fresh start would be about as far as their norm).
    shipped = torch.load(result.files["weights"], weights_only=True)
    trained = load_torch(SearchFiles(tmp_path).best_trial_path)["trainer"]["model"]
    kernels = [name for name, tensor in trained.items() if tensor.ndim > 1]  # not batch-norm statistics
    distance = sum((shipped[name] - trained[name]).norm() ** 2 for name in kernels) ** 0.5
    assert distance < 0.2 * sum(trained[name].norm() ** 2 for name in kernels) ** 0.5
    peak = max(event["lr"] for event in final)
    assert peak <= CONTINUED_LR_SHARE * candidate.genotype["train"]["lr"] + 1e-9 and final[-1]["lr"] < 0.1 * peak


def test_a_best_candidate_whose_time_left_buys_less_than_an_epoch_continues_for_part_of_one(
        make_image_folder, monkeypatch, tmp_path):
    # The searched epochs report a minute each: the end's 45-odd seconds buy about half an epoch of it on
    # train+validation, and whole epochs alone would leave them unused.
    epochs_take(monkeypatch, 65.0, of=lambda genotype: genotype["train"]["epochs"] == SEARCHED_EPOCHS)
    space = replace(TINY_SPACE, min_epochs=SEARCHED_EPOCHS, max_epochs=SEARCHED_EPOCHS, optimizers=("sgd",),
                    batch_sizes=(16,))
    log = EventLog()
    result = run_search(tiny_config(max_trials=1, budget_seconds=60.0, space=space),
                        make_image_folder(per_class=40), tmp_path, on_event=log)

    [started] = log.of_type("final_training_started")
    assert started["reason"] == "continuing its training on training + validation images for part of an epoch"
    [final] = [event for event in log.of_type("epoch_finished") if event["phase"] == "final"]
    assert final["total_epochs"] == 1
    # It ran to the end of its schedule (one stopped part-way would ship the candidate as the search trained it).
    assert result.summary.continued and result.best.final_epochs == SEARCHED_EPOCHS + 1


def test_a_killed_continued_training_resumes_as_a_continued_training(make_image_folder, monkeypatch, tmp_path):
    epochs_take(monkeypatch, EPOCH_SECONDS, of=lambda genotype: True)
    data, second = make_image_folder(), EventLog()

    def kill_after_the_first_final_epoch(event: dict) -> None:
        if event["type"] == "epoch_finished" and event["phase"] == "final":
            raise SimulatedKill

    with pytest.raises(SimulatedKill):
        run_search(slow_epochs_config(), data, tmp_path, on_event=kill_after_the_first_final_epoch)
    result = run_search(slow_epochs_config(), data, tmp_path, on_event=second)

    [started] = second.of_type("final_training_started")
    assert started["reason"].startswith("continuing its training")
    epochs = second.of_type("epoch_finished")
    assert [event["epoch"] for event in epochs] == list(range(2, epochs[-1]["total_epochs"] + 1))
    assert started["epochs"] <= epochs[-1]["total_epochs"] <= SEARCHED_EPOCHS
    assert result.summary.continued
