"""One network trained by several processes at once, each on its share of every batch: how a run's other slots
help train its final model instead of idling while the coordinator does.

After its search a slot (apps.nas.slots) offers itself, refreshing its offer while it waits; the coordinator takes
the fresh offers, publishes who trains which candidate for how many epochs, and every member meets the others in a
TrainingGroup (torch.distributed over gloo; the meeting place is a file in the run's work_dir, which slots on other
machines share). Members draw the same batch order and augmentation, each trains on its rows of every batch, and
they average their gradients after each step, so their networks stay one network; the coordinator alone plans,
checkpoints and exports it. A member that stops answering breaks the group (GroupBroken): the coordinator trains on
alone from its last checkpoint.

Only CPU workers share a final training (gloo is what this project has measured, and several slots on one GPU would
gain nothing from it), and only that of a network from scratch whose steps are long enough to gain MIN_SPEEDUP
(RunState.final_training_processes).
"""

import datetime
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import optuna
import torch
import torch.distributed as dist
from torch import nn

# How long members wait to meet, and then for each other at every step: a member silent this long breaks the group.
GROUP_TIMEOUT_SECONDS = 30.0
# How long the coordinator waits, after the slots' last candidates, for their offers to come.
OFFER_WAIT_SECONDS = 5.0
# An offer not refreshed for this long is from a slot that stopped waiting or died.
OFFER_FRESH_SECONDS = 10.0
OFFER_POLL_SECONDS = 0.5
# What each step costs a member beyond its share of the work: averaging the gradients and waiting for the slowest
# member. Measured with two processes of one thread on this project's 2-core CPU, MNIST-5k: steps of 72 ms alone ran
# 1.29x as fast shared, steps of 0.3-2.3 s 1.5-2.2x (five networks of the space, docs/benchmarks.md).
SYNC_SECONDS = 0.02
# Below this speedup a final training is not shared: the gain would not pay for the risk of a member going silent.
MIN_SPEEDUP = 1.2
PUBLISHED_KEY = "final_group"


class GroupBroken(RuntimeError):
    """A member stopped answering, or never came: the group is over."""


def speedup(processes: int, step_seconds: float) -> float:
    """How many times faster `processes` members train a network than one process does, by its step's time alone."""
    return step_seconds / (step_seconds / processes + SYNC_SECONDS)


def offer_key(slot: int) -> str:
    return f"final_offer_{slot}"


class TrainingGroup:
    """This process's membership of a final training's group: rank 0 is the coordinator. A gloo process group of
    its own, not torch.distributed's default one: a worker meets many groups in its life, and a default group that
    once failed to meet keeps the process from ever meeting another."""

    def __init__(self, meeting_file: Path, rank: int, size: int):
        try:
            self.processes = dist.ProcessGroupGloo(dist.FileStore(str(meeting_file), size), rank, size,
                                                   datetime.timedelta(seconds=GROUP_TIMEOUT_SECONDS))
        except RuntimeError as error:
            raise GroupBroken(f"the group did not meet: {error}") from error
        self.meeting_file = meeting_file
        self.rank = rank
        self.size = size

    def rows(self, batch_size: int) -> slice:
        """This member's rows of a batch (an equal share each; the few left over by the division go unused)."""
        share = batch_size // self.size
        return slice(self.rank * share, (self.rank + 1) * share)

    def average_gradients(self, module: nn.Module) -> None:
        grads = [parameter.grad for parameter in module.parameters() if parameter.grad is not None]
        flat = torch.cat([grad.reshape(-1) for grad in grads])
        self._run(lambda: self.processes.allreduce(flat))
        flat /= self.size
        for grad, averaged in zip(grads, flat.split([grad.numel() for grad in grads]), strict=True):
            grad.copy_(averaged.view_as(grad))

    def any(self, flag: bool) -> bool:
        """Whether any member says yes."""
        votes = torch.tensor([int(flag)])
        self._run(lambda: self.processes.allreduce(votes, dist.ReduceOp.MAX))
        return bool(votes.item())

    def coordinators(self, value: int) -> int:
        """The coordinator's value, on every member."""
        held = torch.tensor([value])
        self._run(lambda: self.processes.broadcast(held, 0))
        return int(held.item())

    def close(self) -> None:
        self.processes.shutdown()
        if self.rank == 0:  # the store removes its file once every member let go of it; a dead one never does
            self.meeting_file.unlink(missing_ok=True)

    @staticmethod
    def _run(collective: Callable[[], dist.Work]) -> None:
        try:
            collective().wait()
        except RuntimeError as error:
            raise GroupBroken(f"a member stopped answering: {error}") from error


def offer(study: optuna.Study, slot: int, offer_id: str) -> None:
    """Offer (again) slot `slot` to the final training; the coordinator takes only offers refreshed lately."""
    study.set_user_attr(offer_key(slot), {"id": offer_id, "at": time.time()})


def withdraw(study: optuna.Study, slot: int) -> None:
    study.set_user_attr(offer_key(slot), None)


def fresh_offers(study: optuna.Study, slots: Iterable[int]) -> dict[int, str]:
    """{slot: offer id} of the slots whose offers are fresh."""
    attrs, now = study.user_attrs, time.time()
    offers = {slot: attrs.get(offer_key(slot)) for slot in slots}
    return {slot: made["id"] for slot, made in offers.items()
            if made is not None and now - made["at"] <= OFFER_FRESH_SECONDS}


def gather_offers(study: optuna.Study, slots: set[int]) -> dict[int, str]:
    """The fresh offers, once every slot in `slots` has made one or OFFER_WAIT_SECONDS have passed."""
    deadline = time.monotonic() + OFFER_WAIT_SECONDS
    while len(offers := fresh_offers(study, slots)) < len(slots) and time.monotonic() < deadline:
        time.sleep(OFFER_POLL_SECONDS)
    return offers


def publish(study: optuna.Study, offers: dict[int, str], plan: dict) -> dict:
    """Tell the waiting slots who trains (the taken offers, in rank order after the coordinator) and what: `plan`
    ({"trial", "epochs"}), or {} when the coordinator trains alone. Returns what it published."""
    published = {"members": [0, *offers], "offers": list(offers.values()), "meeting": f"final-group-{uuid.uuid4().hex}",
                 **plan} if plan else {"members": [0], "offers": []}
    study.set_user_attr(PUBLISHED_KEY, published)
    return published


def wait_for_publication(study: optuna.Study, slot: int, keep_waiting: Callable[[], bool]) -> dict | None:
    """Offer slot `slot` until the coordinator publishes; what it published when it took this offer, else None."""
    offer_id = uuid.uuid4().hex
    try:
        while keep_waiting():
            offer(study, slot, offer_id)
            if (published := study.user_attrs.get(PUBLISHED_KEY)) is not None:
                return published if offer_id in published["offers"] else None
            time.sleep(OFFER_POLL_SECONDS)
        return None
    finally:
        withdraw(study, slot)
