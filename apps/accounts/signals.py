from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .services import personal_team_ensure


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_user_a_personal_team(sender, instance, created, raw=False, **kwargs):
    # A signal rather than a call in the sign-up view, because users also come from createsuperuser, the admin
    # and scripts, and every one of them needs a team to own datasets and runs.
    if created and not raw:
        personal_team_ensure(instance)
