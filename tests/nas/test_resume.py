import pytest

from apps.nas.search import run_search
from apps.nas.space import SearchSpace
from apps.nas.strategies import STRATEGIES
from tests.nas.tiny_search import EventLog, tiny_config

# Every candidate trains 3 or 4 epochs, so a kill after epoch 1 of a trial always lands mid-trial, and before early
# stopping (auto's) can stop it.
SPACE = SearchSpace(widths=(8, 16), stem_widths=(8,), expand_ratios=(2,), max_stages=2, max_depth=1,
                    batch_sizes=(16, 32), min_epochs=3, max_epochs=4, backbones=())
KILLED_TRIAL, KILLED_AFTER_EPOCH = 2, 1
# max_trials ends these searches in seconds; the budget is far above that so that a machine stalled for a while (a busy
# CI host once took 30 s over oneshot's supernet phase) cannot change what is proposed or end a search early.
BUDGET_SECONDS = 300.0


class SimulatedKill(BaseException):
    """Like SIGKILL: no handler in the engine catches it, so nothing gets tidied up."""


def kill_mid_trial(log: EventLog):
    def on_event(event: dict) -> None:
        log(event)
        if (event["type"], event.get("trial_id"), event.get("epoch")) == (
                "epoch_finished", KILLED_TRIAL, KILLED_AFTER_EPOCH):
            raise SimulatedKill

    return on_event


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_resumed_search_skips_finished_trials_and_continues_the_killed_one(strategy, make_image_folder, tmp_path):
    data = make_image_folder()
    config = tiny_config(space=SPACE, max_trials=4, strategy=strategy, budget_seconds=BUDGET_SECONDS)
    reference = run_search(config, data, tmp_path / "uninterrupted")

    first, second = EventLog(), EventLog()
    with pytest.raises(SimulatedKill):
        run_search(config, data, tmp_path / "work", on_event=kill_mid_trial(first))
    result = run_search(config, data, tmp_path / "work", on_event=second)

    finished_before = {e["trial_id"] for e in first.of_type("trial_finished")}
    assert finished_before == {0, 1}
    started_again = second.of_type("trial_started")
    assert started_again[0]["trial_id"] == KILLED_TRIAL
    assert started_again[0]["resumed_from_epoch"] == KILLED_AFTER_EPOCH
    assert not finished_before & {e["trial_id"] for e in started_again}
    resumed_epochs = [e["epoch"] for e in second.of_type("epoch_finished") if e["trial_id"] == KILLED_TRIAL]
    assert resumed_epochs[0] == KILLED_AFTER_EPOCH + 1
    assert second[0]["resumed"] and second[0]["elapsed_seconds"] >= first[-1]["elapsed_seconds"]
    # Resuming from the checkpoint is bit-identical on CPU: the same curves as the run that was never killed.
    def curves(r):
        return {row.id: [epoch.val_accuracy for epoch in row.curve] for row in r.leaderboard}

    assert curves(result) == curves(reference)
    assert result.best.genotype == reference.best.genotype


def test_a_finished_search_called_again_returns_without_training(make_image_folder, tmp_path):
    data = make_image_folder()
    config = tiny_config(max_trials=2)
    first = run_search(config, data, tmp_path / "work")
    log = EventLog()
    again = run_search(config, data, tmp_path / "work", on_event=log)
    assert not log.of_type("trial_started")
    assert again.best.genotype == first.best.genotype
