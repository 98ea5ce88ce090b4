from django.contrib.auth import authenticate
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.datasets.selectors import team_stored_bytes
from apps.runs.selectors import team_active_run_count

from . import services
from .ids import id_from_text
from .models import Membership, Team
from .permissions import owner_check
from .selectors import (
    invite_get_by_key,
    invite_get_or_404,
    invite_list,
    member_get_or_404,
    member_list,
    team_get,
    team_get_or_404,
    team_list,
    token_get_or_404,
    token_list,
)
from .throttle import LOCKED_MESSAGE, AddressRateThrottle, login_blocked, login_failed, username_normalize

ROLES = Membership.Role.values


class TeamOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_personal = serializers.BooleanField()
    role = serializers.ChoiceField(choices=ROLES, help_text="Your role in the team.")


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    teams = TeamOutput(many=True)


class MeApi(APIView):
    @extend_schema(responses=MeOutput)
    def get(self, request):
        me = {"id": request.user.id, "username": request.user.username, "teams": team_list(user=request.user)}
        return Response(MeOutput(me).data)


def team_from_input(request, team_id: int | None) -> Team:
    """The team a POST names (`team`), or the personal team; 400 for a team the user is not in."""
    team = team_get(user=request.user, team_id=team_id)
    if team is None:
        raise ValidationError({"team": ["You are not a member of this team."]})
    return team


def team_from_query(request) -> Team | None:
    """The team `?team=` names, for list endpoints; None without it (all the user's teams); 404 for an id that is
    not one of the user's teams, whether it exists or not."""
    raw = request.query_params.get("team")
    if raw in (None, ""):
        return None
    team_id = id_from_text(raw)
    team = team_get(user=request.user, team_id=team_id) if team_id else None
    if team is None:
        raise NotFound("You are in no team with this id. GET /api/teams/ lists yours.")
    return team


class TeamListApi(APIView):
    class TeamCreateInput(serializers.Serializer):
        name = serializers.CharField(max_length=100)

    @extend_schema(responses=TeamOutput(many=True))
    def get(self, request):
        return Response(TeamOutput(team_list(user=request.user), many=True).data)

    @extend_schema(request=TeamCreateInput, responses={201: TeamOutput})
    def post(self, request):
        data = self.TeamCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.team_create(name=data.validated_data["name"].strip(), owner=request.user)
        return Response(TeamOutput(team_get_or_404(user=request.user, team_id=team.pk)).data,
                        status=status.HTTP_201_CREATED)


class TeamDetailApi(APIView):
    class TeamDetailOutput(TeamOutput):
        max_concurrent_runs = serializers.IntegerField(source="run_quota")
        max_stored_bytes = serializers.IntegerField(source="storage_quota")
        workers_per_run = serializers.IntegerField()
        active_runs = serializers.IntegerField()
        stored_bytes = serializers.IntegerField()

    @extend_schema(responses=TeamDetailOutput)
    def get(self, request, team_id):
        team = team_get_or_404(user=request.user, team_id=team_id)
        team.active_runs = team_active_run_count(team=team)
        team.stored_bytes = team_stored_bytes(team=team)
        return Response(self.TeamDetailOutput(team).data)


class MemberOutput(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=ROLES)
    joined = serializers.DateTimeField(source="created")


class TeamMemberListApi(APIView):
    class MemberAddInput(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        role = serializers.ChoiceField(choices=ROLES, default=Membership.Role.MEMBER)

    @extend_schema(responses=MemberOutput(many=True))
    def get(self, request, team_id):
        team = team_get_or_404(user=request.user, team_id=team_id)
        return Response(MemberOutput(member_list(team=team), many=True).data)

    @extend_schema(request=MemberAddInput, responses={201: MemberOutput})
    def post(self, request, team_id):
        team = team_get_or_404(user=request.user, team_id=team_id)
        data = self.MemberAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_invite(team=team, by=request.user, **data.validated_data)
        return Response(MemberOutput(membership).data, status=status.HTTP_201_CREATED)


class TeamMemberDetailApi(APIView):
    """One member of a team: an owner changes their role or removes them; anyone removes themselves (leaves)."""

    class RoleInput(serializers.Serializer):
        role = serializers.ChoiceField(choices=ROLES)

    @extend_schema(request=RoleInput, responses=MemberOutput)
    def patch(self, request, team_id, user_id):
        team = team_get_or_404(user=request.user, team_id=team_id)
        member = member_get_or_404(team=team, user_id=user_id).user
        data = self.RoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_role_set(team=team, by=request.user, member=member, **data.validated_data)
        return Response(MemberOutput(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, team_id, user_id):
        team = team_get_or_404(user=request.user, team_id=team_id)
        member = member_get_or_404(team=team, user_id=user_id).user
        services.member_remove(team=team, by=request.user, member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InviteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="The link to send: a logged-in user who opens it may join.")
    key = serializers.CharField(help_text="POST /api/invites/{key}/join/ joins from a script.")
    created = serializers.DateTimeField()

    def get_url(self, invite) -> str:
        return self.context["request"].build_absolute_uri(reverse("team-join", args=[invite.key]))


class TeamInviteListApi(APIView):
    """A team's working invite links; owners only, as the links let people in."""

    class InviteCreateInput(serializers.Serializer):
        role = serializers.ChoiceField(choices=[Membership.Role.MEMBER, Membership.Role.VIEWER],
                                       default=Membership.Role.MEMBER)

    @extend_schema(responses=InviteOutput(many=True))
    def get(self, request, team_id):
        team = team_get_or_404(user=request.user, team_id=team_id)
        owner_check(user=request.user, team=team, doing="see invite links")
        return Response(InviteOutput(invite_list(team=team), many=True, context={"request": request}).data)

    @extend_schema(request=InviteCreateInput, responses={201: InviteOutput})
    def post(self, request, team_id):
        team = team_get_or_404(user=request.user, team_id=team_id)
        data = self.InviteCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        invite = services.invite_create(team=team, by=request.user, **data.validated_data)
        return Response(InviteOutput(invite, context={"request": request}).data, status=status.HTTP_201_CREATED)


class TeamInviteDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, team_id, invite_id):
        team = team_get_or_404(user=request.user, team_id=team_id)
        services.invite_revoke(invite=invite_get_or_404(team=team, invite_id=invite_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InviteJoinApi(APIView):
    @extend_schema(request=None, responses=MemberOutput)
    def post(self, request, invite_key):
        membership = services.invite_accept(invite=invite_get_by_key(key=invite_key), user=request.user)
        return Response(MemberOutput(membership).data)


class TokenOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters, to recognise it.")
    created = serializers.DateTimeField()
    last_used = serializers.DateTimeField(allow_null=True)


class TokenCreatedOutput(TokenOutput):
    key = serializers.CharField(help_text="The whole key: shown this once, never again.")


class TokenListApi(APIView):
    class TokenCreateInput(serializers.Serializer):
        name = serializers.CharField(max_length=100)

    @extend_schema(responses=TokenOutput(many=True))
    def get(self, request):
        return Response(TokenOutput(token_list(user=request.user), many=True).data)

    @extend_schema(request=TokenCreateInput, responses={201: TokenCreatedOutput})
    def post(self, request):
        data = self.TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = services.token_create(user=request.user, name=data.validated_data["name"])
        token.key = key
        return Response(TokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)


class TokenDetailApi(APIView):
    @extend_schema(responses={204: None}, description="Revoke the token: it stops working with the next request.")
    def delete(self, request, token_id):
        services.token_revoke(token=token_get_or_404(user=request.user, token_id=token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenObtainApi(APIView):
    """Username and password in, a new named API token out; throttled, and closed after repeated wrong passwords
    like the log-in page."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = [AddressRateThrottle]
    throttle_scope = "auth"

    class TokenObtainInput(serializers.Serializer):
        username = serializers.CharField()
        password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
        name = serializers.CharField(max_length=100, required=False, default="Created by /api/auth/token/",
                                     help_text="A name to recognise the token by on the API tokens page.")

    @extend_schema(request=TokenObtainInput,
                   responses={200: inline_serializer("TokenObtained", {"token": serializers.CharField()})})
    def post(self, request):
        data = self.TokenObtainInput(data=request.data)
        data.is_valid(raise_exception=True)
        username = username_normalize(data.validated_data["username"])  # as the log-in page reads it
        if login_blocked(request, username):
            raise ValidationError({"non_field_errors": [LOCKED_MESSAGE]})
        user = authenticate(request, username=username, password=data.validated_data["password"])
        if user is None:
            login_failed(request, username)
            raise ValidationError({"non_field_errors": ["Unable to log in with provided credentials."]})
        _, key = services.token_create(user=user, name=data.validated_data["name"])
        return Response({"token": key})
