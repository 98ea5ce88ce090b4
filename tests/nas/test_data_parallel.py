"""A final training shared by several processes (apps.nas.data_parallel): each a real process."""

import multiprocessing
import time

import optuna
import torch

from apps.nas import data_parallel
from apps.nas.data import load_image_folder
from apps.nas.space import baseline_genotype, with_epochs
from apps.nas.train import Trainer

SPAWN = multiprocessing.get_context("spawn")


def member(folder, meeting_file, rank, size) -> dict:
    """Train the recipe for two epochs as member `rank` of a group of `size`; its weights after."""
    torch.set_num_threads(1)
    group = data_parallel.TrainingGroup(meeting_file, rank=rank, size=size)
    trainer = Trainer(with_epochs(baseline_genotype(), 2), load_image_folder(folder), None, device="cpu", seed=3,
                      group=group)
    trainer.fit()
    group.close()
    return trainer.model.state_dict()


def test_members_train_one_network_each_on_its_rows_of_every_batch(make_image_folder, tmp_path):
    folder = make_image_folder(classes=3, per_class=40, size=(16, 16))
    untrained = Trainer(with_epochs(baseline_genotype(), 2), load_image_folder(folder), None, device="cpu",
                        seed=3).model.state_dict()

    with SPAWN.Pool(2) as pool:
        first, second = pool.starmap(member, [(folder, tmp_path / "meeting", rank, 2) for rank in (0, 1)])

    learned = [name for name, tensor in untrained.items() if tensor.is_floating_point()]
    assert all(torch.equal(first[name], second[name]) for name in learned if "running" not in name)
    assert any(not torch.equal(first[name], untrained[name]) for name in learned)


def test_a_group_whose_member_never_comes_is_reported_broken(tmp_path, monkeypatch):
    monkeypatch.setattr(data_parallel, "GROUP_TIMEOUT_SECONDS", 1.0)
    started = time.monotonic()
    try:
        data_parallel.TrainingGroup(tmp_path / "meeting", rank=0, size=2)
    except data_parallel.GroupBroken as broken:
        assert "did not meet" in str(broken)
    else:
        raise AssertionError("a group of two met with one member")
    assert time.monotonic() - started < 30


def test_the_coordinator_takes_only_fresh_offers(monkeypatch):
    study, clock = optuna.create_study(), [1000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    data_parallel.offer(study, 1, "waiting")
    data_parallel.offer(study, 2, "gone")
    data_parallel.withdraw(study, 2)
    data_parallel.offer(study, 3, "silent")
    clock[0] += data_parallel.OFFER_FRESH_SECONDS + 1
    data_parallel.offer(study, 1, "waiting")

    assert data_parallel.fresh_offers(study, [1, 2, 3, 4]) == {1: "waiting"}
