from django.contrib.auth import views as auth_views
from django.urls import path

from . import api, views

api_urlpatterns = [
    path("auth/token/", api.TokenObtainApi.as_view(), name="api-token"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("teams/", api.TeamListApi.as_view(), name="api-team-list"),
    path("teams/<int:team_id>/", api.TeamDetailApi.as_view(), name="api-team-detail"),
    path("teams/<int:team_id>/members/", api.TeamMemberListApi.as_view(), name="api-team-members"),
    path("teams/<int:team_id>/members/<int:user_id>/", api.TeamMemberDetailApi.as_view(), name="api-team-member"),
    path("teams/<int:team_id>/invites/", api.TeamInviteListApi.as_view(), name="api-team-invites"),
    path("teams/<int:team_id>/invites/<int:invite_id>/", api.TeamInviteDetailApi.as_view(), name="api-team-invite"),
    path("invites/<str:invite_key>/join/", api.InviteJoinApi.as_view(), name="api-invite-join"),
    path("tokens/", api.TokenListApi.as_view(), name="api-token-list"),
    path("tokens/<int:token_id>/", api.TokenDetailApi.as_view(), name="api-token-detail"),
]

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/", views.team_list, name="team-list"),
    path("teams/switch/", views.team_switch, name="team-switch"),
    path("teams/join/<str:invite_key>/", views.team_join, name="team-join"),
    path("teams/<int:team_id>/", views.team_detail, name="team-detail"),
    path("teams/<int:team_id>/members/", views.team_member_add, name="team-member-add"),
    path("teams/<int:team_id>/members/<int:user_id>/role/", views.team_member_role, name="team-member-role"),
    path("teams/<int:team_id>/members/<int:user_id>/remove/", views.team_member_remove, name="team-member-remove"),
    path("teams/<int:team_id>/leave/", views.team_leave, name="team-leave"),
    path("teams/<int:team_id>/invites/", views.team_invite_create, name="team-invite-create"),
    path("teams/<int:team_id>/invites/<int:invite_id>/revoke/", views.team_invite_revoke, name="team-invite-revoke"),
    path("tokens/", views.token_list, name="token-list"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
