from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .selectors import team_list


class TeamOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_personal = serializers.BooleanField()


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    teams = TeamOutput(many=True)


class MeApi(APIView):
    @extend_schema(responses=MeOutput)
    def get(self, request):
        me = {"id": request.user.id, "username": request.user.username, "teams": team_list(user=request.user)}
        return Response(MeOutput(me).data)


class TokenObtainApi(ObtainAuthToken):
    """Username and password in, API token out; throttled like the log-in page."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
