from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.current_team import current_team_get
from apps.accounts.ids import id_from_text
from apps.accounts.selectors import team_get_or_404

from .selectors import activity_list as activities_of

PAGE_SIZE = 30


@login_required
@require_GET
def activity_list(request):
    """The feed of the current team, or of another of the user's teams with `?team=`."""
    raw = request.GET.get("team")
    team_id = id_from_text(raw)
    if raw and team_id is None:
        raise Http404("No such team.")
    team = team_get_or_404(user=request.user, team_id=team_id) if team_id else current_team_get(request)
    page = Paginator(activities_of(user=request.user, team_id=team.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "activity/list.html", {"page": page, "team": team})
