from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.accounts.models import Membership

from .models import Activity
from .services import activity_record


# Signals, so every way in or out of a team (invitation, removal, the admin, a script) shows in the feed.
@receiver(post_save, sender=Membership)
def record_member_joined(sender, instance, created, raw=False, **kwargs):
    # The first member created the team: nobody is there to be told.
    if created and not raw and instance.team.memberships.exclude(pk=instance.pk).exists():
        activity_record(team=instance.team, actor=instance.user, verb=Activity.Verb.MEMBER_JOINED)


@receiver(post_delete, sender=Membership)
def record_member_left(sender, instance, origin=None, **kwargs):
    # Only a membership deleted for itself: deleting a user or a team takes memberships along, and is no leaving.
    deleted_itself = origin is instance or isinstance(origin, QuerySet) and origin.model is Membership
    if deleted_itself and instance.team.memberships.exists():
        activity_record(team=instance.team, actor=instance.user, verb=Activity.Verb.MEMBER_LEFT)
