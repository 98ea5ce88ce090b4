from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.datasets.selectors import team_stored_bytes
from apps.runs.selectors import team_active_run_count

from . import selectors, services
from .current_team import current_team_set
from .forms import InviteLinkForm, LoginForm, MemberInviteForm, RoleForm, SignUpForm, TeamForm, TokenForm
from .ids import id_from_text
from .models import Membership


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if form.is_valid():
        login(request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return redirect(safe_next(request) or "home")
    return render(request, "accounts/signup.html", {"form": form, "next": safe_next(request)})


def safe_next(request) -> str | None:
    """Where to go after signing up (an invite link opened before having an account), if it is on this site."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return None


class ThrottledLoginView(LoginView):
    """Django's log-in page, closed for a while to an account or address after too many failed attempts."""

    authentication_form = LoginForm
    redirect_authenticated_user = True


@login_required
@require_http_methods(["GET", "POST"])
def team_list(request):
    """The user's teams, and a form to create one."""
    form = TeamForm(request.POST or None)
    if form.is_valid():
        team = services.team_create(name=form.cleaned_data["name"], owner=request.user)
        current_team_set(request, team)
        messages.success(request, f"Created “{team.name}”. You are its owner: invite people below.")
        return redirect("team-detail", team.pk)
    return render(request, "accounts/teams.html", {"teams": selectors.team_list(user=request.user), "form": form})


@login_required
@require_GET
def team_detail(request, team_id):
    """Members and their roles, invitations, quotas, and leaving."""
    team = selectors.team_get_or_404(user=request.user, team_id=team_id)
    is_owner = team.role == Membership.Role.OWNER
    active_runs, stored_bytes = team_active_run_count(team=team), team_stored_bytes(team=team)
    return render(request, "accounts/team_detail.html", {
        "team": team, "is_owner": is_owner, "members": selectors.member_list(team=team),
        "invites": selectors.invite_list(team=team) if is_owner else [],
        "roles": Membership.Role.choices, "invite_form": MemberInviteForm(), "link_form": InviteLinkForm(),
        "is_own_personal_team": team == selectors.personal_team_get(user=request.user),
        "personal_team_note": services.PERSONAL_TEAM_IS_PRIVATE,
        "active_runs": active_runs, "runs_percent": percent(active_runs, team.run_quota),
        "stored_bytes": stored_bytes, "storage_percent": percent(stored_bytes, team.storage_quota),
    })


def percent(used: int, limit: int) -> int:
    return 100 if limit <= 0 else min(100, round(100 * used / limit))


def team_rule_refused(request, team_id: int, error: services.TeamRuleError):
    messages.error(request, str(error))
    return redirect("team-detail", team_id)


@login_required
@require_POST
def team_member_add(request, team_id):
    team = selectors.team_get_or_404(user=request.user, team_id=team_id)
    form = MemberInviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the username of someone with an account here, and a role.")
        return redirect("team-detail", team.pk)
    try:
        membership = services.member_invite(team=team, by=request.user, **form.cleaned_data)
    except services.TeamRuleError as error:
        return team_rule_refused(request, team.pk, error)
    messages.success(request, f"{membership.user.get_username()} joined “{team.name}” as {membership.role}.")
    return redirect("team-detail", team.pk)


@login_required
@require_POST
def team_member_role(request, team_id, user_id):
    team = selectors.team_get_or_404(user=request.user, team_id=team_id)
    member = selectors.member_get_or_404(team=team, user_id=user_id).user
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, member or viewer.")
        return redirect("team-detail", team.pk)
    try:
        membership = services.member_role_set(team=team, by=request.user, member=member, **form.cleaned_data)
    except services.TeamRuleError as error:
        return team_rule_refused(request, team.pk, error)
    messages.success(request, f"{member.get_username()} is now {membership.role} of “{team.name}”.")
    return redirect("team-detail", team.pk)


@login_required
@require_POST
def team_member_remove(request, team_id, user_id):
    team = selectors.team_get_or_404(user=request.user, team_id=team_id)
    member = selectors.member_get_or_404(team=team, user_id=user_id).user
    if member == request.user:
        return team_leave(request, team_id)
    try:
        services.member_remove(team=team, by=request.user, member=member)
    except services.TeamRuleError as error:
        return team_rule_refused(request, team.pk, error)
    messages.success(request, f"Removed {member.get_username()} from “{team.name}”.")
    return redirect("team-detail", team.pk)


@login_required
@require_POST
def team_leave(request, team_id):
    team = selectors.team_get_or_404(user=request.user, team_id=team_id)
    try:
        services.team_leave(team=team, user=request.user)
    except services.TeamRuleError as error:
        return team_rule_refused(request, team.pk, error)
    messages.success(request, f"You left “{team.name}”.")
    return redirect("team-list")


@login_required
@require_POST
def team_invite_create(request, team_id):
    team = selectors.team_get_or_404(user=request.user, team_id=team_id)
    form = InviteLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "An invite link makes people members or viewers.")
        return redirect("team-detail", team.pk)
    try:
        invite = services.invite_create(team=team, by=request.user, role=form.cleaned_data["role"])
    except services.TeamRuleError as error:
        return team_rule_refused(request, team.pk, error)
    messages.success(request, f"New invite link for {invite.role}s: copy it from the list below.")
    return redirect(reverse("team-detail", args=[team.pk]) + "#invites")


@login_required
@require_POST
def team_invite_revoke(request, team_id, invite_id):
    team = selectors.team_get_or_404(user=request.user, team_id=team_id)
    invite = services.invite_revoke(invite=selectors.invite_get_or_404(team=team, invite_id=invite_id),
                                    by=request.user)
    messages.success(request, f"The invite link …{invite.key[-6:]} no longer works.")
    return redirect(reverse("team-detail", args=[team.pk]) + "#invites")


@login_required
@require_http_methods(["GET", "POST"])
def team_join(request, invite_key):
    """GET: what the link invites to; POST: join."""
    invite = selectors.invite_get_by_key(key=invite_key)
    already = invite.team.memberships.filter(user=request.user).first()
    refusal = services.invite_refusal(invite=invite)
    if request.method == "POST" and not already:
        try:
            services.invite_accept(invite=invite, user=request.user)
        except services.TeamRuleError as error:
            messages.error(request, str(error))
            return redirect("team-list")
        current_team_set(request, invite.team)
        messages.success(request, f"Welcome to “{invite.team.name}”: you joined as {invite.role}.")
        return redirect("team-detail", invite.team.pk)
    return render(request, "accounts/team_join.html", {"invite": invite, "already": already, "refusal": refusal})


@login_required
@require_POST
def team_switch(request):
    """Make another of the user's teams the current one, then go back where they were."""
    team_id = id_from_text(request.POST.get("team"))
    team = selectors.team_get(user=request.user, team_id=team_id) if team_id else None
    if team is None:
        messages.error(request, "You are not a member of that team any more.")
    else:
        current_team_set(request, team)
    return redirect(safe_next(request) or "home")


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """The user's API tokens; POST creates one and shows its key, this once."""
    form = TokenForm(request.POST or None)
    new_key = None
    if form.is_valid():
        _, new_key = services.token_create(user=request.user, name=form.cleaned_data["name"])
        form = TokenForm()
    response = render(request, "accounts/tokens.html", {
        "tokens": selectors.token_list(user=request.user), "form": form, "new_key": new_key})
    if new_key:
        response["Cache-Control"] = "no-store"  # the key must not stay in a cache or the back button
    return response


@login_required
@require_POST
def token_revoke(request, token_id):
    token = services.token_revoke(token=selectors.token_get_or_404(user=request.user, token_id=token_id))
    messages.success(request, f"Revoked “{token.name}” ({token.prefix}…): scripts using it are refused from now on.")
    return redirect("token-list")
