from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from apps.accounts.models import Team

from .models import Activity

DELETIONS = {Activity.Verb.DATASET_DELETED, Activity.Verb.RUN_DELETED}


def activity_record(*, team: Team, actor: AbstractBaseUser | None, verb: str,
                    target: models.Model | None = None) -> Activity:
    """Add a line to a team's feed; `target` is the dataset or run it is about (its name is kept as it is now)."""
    kind = target._meta.model_name if target is not None else ""
    target_id = target.pk if target is not None else None
    if verb in DELETIONS:
        Activity.objects.filter(team=team, target_kind=kind, target_id=target_id).update(target_id=None)
        target_id = None
    return Activity.objects.create(team=team, actor=actor, verb=verb, target_kind=kind, target_id=target_id,
                                   target_label=getattr(target, "name", "")[:200])
