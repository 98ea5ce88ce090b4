from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.current_team import current_team_get
from apps.accounts.ids import id_from_text
from apps.accounts.permissions import can_write
from apps.accounts.quotas import QuotaExceeded
from apps.datasets.selectors import dataset_get, dataset_list

from . import services
from .budgets import BUDGET_PRESETS, budget_label
from .forms import RunForm
from .selectors import (
    note_get,
    note_list,
    run_get,
    share_link_get,
    share_link_list,
    shared_artifact_list,
    shared_link_get,
)
from .selectors import run_list as runs_of

# A new share link's URL waits here for the one page view that shows it; only its hash is kept after that.
NEW_SHARE_URL_SESSION_KEY = "new_share_url"


@login_required
@require_GET
def run_list(request):
    return render(request, "runs/list.html", {"runs": runs_of(user=request.user, team=current_team_get(request))})


@login_required
@require_http_methods(["GET", "POST"])
def run_new(request):
    team = current_team_get(request)
    # The current team's datasets, and the one a dataset page of another of the user's teams sent them here with.
    asked_id = id_from_text(request.POST.get("dataset") or request.GET.get("dataset"))
    datasets = dataset_list(user=request.user).filter(Q(team=team) | Q(pk=asked_id), status="ready")
    if request.method == "GET" and not can_write(user=request.user, team=team):
        messages.warning(request, f"Viewers of “{team.name}” cannot launch runs; ask an owner to make you a member.")
    form = RunForm(request.POST or None, datasets=datasets, initial=RunForm.initial_from(request.GET))
    if form.is_valid():
        dataset = dataset_get(user=request.user, dataset_id=form.cleaned_data["dataset"].pk)
        try:
            run = services.run_create(team=dataset.team, user=request.user, dataset=dataset, **form.run_options())
        except (services.RunError, QuotaExceeded) as error:
            form.add_error(None, str(error))
        else:
            return redirect("run-detail", run.pk)
    return render(request, "runs/new.html", {"form": form, "datasets": datasets, "budget_presets": BUDGET_PRESETS})


@login_required
@require_GET
def run_detail(request, run_id):
    run = run_get(user=request.user, run_id=run_id)
    new_share = request.session.pop(NEW_SHARE_URL_SESSION_KEY, None)
    return render(request, "runs/detail.html", {
        "run": run, "notes": note_list(run=run), "share_links": share_link_list(run=run),
        "can_write": can_write(user=request.user, team=run.team),
        "new_share_url": new_share["url"] if new_share and new_share["run"] == run.pk else None,
        "extension_limit": budget_label(run.extension_limit_seconds),
    })


@login_required
@require_GET
def run_compare(request):
    ids = [id_from_text(raw) for raw in request.GET.getlist("run")]
    if None in ids:
        raise Http404("No such run.")
    runs = [run_get(user=request.user, run_id=i) for i in ids[:6]]
    all_runs = runs_of(user=request.user, team=current_team_get(request))[:50]
    return render(request, "runs/compare.html", {"runs": runs, "all_runs": all_runs})


@login_required
@require_http_methods(["GET", "POST"])
def run_notes(request, run_id):
    """GET: the notes as a fragment, for the run page to refresh live; POST: add one."""
    run = run_get(user=request.user, run_id=run_id)
    if request.method == "GET":
        return render(request, "runs/_notes.html", {"run": run, "notes": note_list(run=run)})
    try:
        services.note_create(run=run, user=request.user, body=request.POST.get("body", "")[:10_000])
    except services.RunError as error:
        messages.error(request, str(error))
    return redirect(reverse("run-detail", args=[run.pk]) + "#notes")


@login_required
@require_POST
def run_note_delete(request, run_id, note_id):
    services.note_delete(note=note_get(user=request.user, run_id=run_id, note_id=note_id), user=request.user)
    return redirect(reverse("run-detail", args=[run_id]) + "#notes")


@login_required
@require_POST
def run_share_create(request, run_id):
    run = run_get(user=request.user, run_id=run_id)
    try:
        _, token = services.share_link_create(run=run, user=request.user,
                                              allow_download=request.POST.get("allow_download") == "on")
    except services.RunError as error:
        messages.error(request, str(error))
    else:
        request.session[NEW_SHARE_URL_SESSION_KEY] = {
            "run": run.pk, "url": request.build_absolute_uri(reverse("run-shared", args=[token]))}
    return redirect(reverse("run-detail", args=[run.pk]) + "#share")


@login_required
@require_POST
def run_share_revoke(request, run_id, link_id):
    link = share_link_get(user=request.user, run_id=run_id, link_id=link_id)
    services.share_link_revoke(link=link, user=request.user)
    messages.success(request, f"The share link {link.token_hint}… no longer works.")
    return redirect(reverse("run-detail", args=[run_id]) + "#share")


@never_cache  # a revoked link must not live on in a browser's or a proxy's cache
@require_GET
def run_shared(request, token):
    """A run's result, read-only, for whoever holds the link: no account, no team, no other run."""
    link = shared_link_get(token=token)
    response = render(request, "runs/shared.html", {
        "link": link, "run": link.run, "token": token, "downloads": shared_artifact_list(link=link)})
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
