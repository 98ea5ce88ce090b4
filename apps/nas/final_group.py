"""Both sides of a final training shared by the run's slots (see apps.nas.data_parallel): the coordinator gathers
the slots that offer to help and meets them, each slot waits for the plan and trains its part."""

from apps.nas import data_parallel
from apps.nas.state import RunState
from apps.nas.train import TrainingInterrupted


def helping_slots(run: RunState) -> dict[int, str]:
    """{slot: offer id} of the other slots that offer to share the final training."""
    if run.final_training_processes() == 1:
        return {}
    searched = {trial.user_attrs.get("slot", 0) for trial in run.study.get_trials(deepcopy=False)} - {0}
    return data_parallel.gather_offers(run.study, searched)


def meet_helpers(run: RunState, helpers: dict[int, str], plan: dict) -> data_parallel.TrainingGroup | None:
    """Tell the waiting slots the plan ({"trial", "epochs"} of a retrain from scratch; {}: no group), and meet those
    that help; None when the coordinator trains alone."""
    if run.config.workers == 1 or not run.strategy.parallel:
        return None
    published = data_parallel.publish(run.study, helpers, plan)
    if len(published["members"]) == 1:
        return None
    try:
        return data_parallel.TrainingGroup(run.work_dir / published["meeting"], rank=0,
                                           size=len(published["members"]))
    except data_parallel.GroupBroken:
        return None


def help_final_training(run: RunState) -> None:
    """A slot's part: train the run's final model with the coordinator, when it takes this slot's offer; returns
    when that training ends, or at once when it goes without this slot."""
    run.best = run.load_best()
    if run.final_training_processes() == 1:
        return
    published = data_parallel.wait_for_publication(
        run.study, run.slot, keep_waiting=lambda: not run.clock.out_of_final_time())
    if published is None:
        return
    members, genotype = published["members"], run.study.trials[published["trial"]].user_attrs["genotype"]
    try:
        group = data_parallel.TrainingGroup(run.work_dir / published["meeting"], rank=members.index(run.slot),
                                            size=len(members))
    except data_parallel.GroupBroken:
        return
    trainer = run.final_trainer(genotype, published["epochs"], should_stop=run.budget.cancelled, group=group)
    try:
        while trainer.epochs_done < trainer.total_epochs:
            trainer.run_epoch()
            trainer.schedule_in_steps(group.coordinators(0))
    except (TrainingInterrupted, data_parallel.GroupBroken):
        pass
    finally:
        group.close()
