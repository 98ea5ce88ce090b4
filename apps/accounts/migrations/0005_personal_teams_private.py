"""Personal teams that were shared, before a personal team became its owner's alone, turn into ordinary teams (same
members, datasets and runs, so nobody loses access; "alice's team" becomes "alice's team (shared)", a name of the
owner's own choosing stays), and each of their owners gets a fresh personal team."""

from django.db import migrations
from django.db.models import Count


def unshare_personal_teams(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    Membership = apps.get_model("accounts", "Membership")
    shared = Team.objects.filter(is_personal=True).annotate(people=Count("memberships")).filter(people__gt=1)
    for team in shared:
        for owning in Membership.objects.filter(team=team, role="owner").select_related("user"):
            # Named as services.personal_team_ensure names one; written out, not imported, so the migration stays as is.
            personal_name = f"{owning.user.username}'s team"
            if team.name == personal_name:  # two teams of one name in the owner's switcher would be one too many
                team.name = f"{team.name} (shared)"
            personal = Team.objects.create(name=personal_name, is_personal=True)
            Membership.objects.create(team=personal, user=owning.user, role="owner")
        Team.objects.filter(pk=team.pk).update(is_personal=False, name=team.name)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_membership_announced")]

    operations = [migrations.RunPython(unshare_personal_teams, migrations.RunPython.noop)]
