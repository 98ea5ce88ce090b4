from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination

from apps.accounts.api import team_from_query

from .selectors import activity_list


class ActivityOutput(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.IntegerField(source="team_id")
    actor = serializers.CharField(source="actor_name")
    verb = serializers.CharField()
    target_kind = serializers.CharField(help_text="dataset, run, or empty when the team itself is meant.")
    target_id = serializers.IntegerField(allow_null=True, help_text="None once the target was deleted.")
    target_label = serializers.CharField(help_text="The target's name when it happened.")
    text = serializers.CharField(help_text="The whole line in plain words.")
    created = serializers.DateTimeField()


class ActivityPagination(PageNumberPagination):
    page_size = 50


@extend_schema(parameters=[OpenApiParameter("team", int, description="One of your teams; default: all of them.")])
class ActivityListApi(ListAPIView):
    """What happened in your teams, newest first."""

    serializer_class = ActivityOutput
    pagination_class = ActivityPagination

    def get_queryset(self):
        team = team_from_query(self.request)
        return activity_list(user=self.request.user, team_id=team.pk if team else None)
