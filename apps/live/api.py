import secrets

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .tasks import ping_worker


class WorkerPingApi(APIView):
    """Ask a background worker to answer on the user's websocket (`worker.pong` with the same token)."""

    class WorkerPingInput(serializers.Serializer):
        # A page sends its own token: the answer can arrive on the websocket before this response does.
        token = serializers.RegexField(r"^[A-Za-z0-9-]{8,64}$", required=False)

    @extend_schema(request=WorkerPingInput,
                   responses={202: inline_serializer("WorkerPing", {"token": serializers.CharField()})})
    def post(self, request):
        data = self.WorkerPingInput(data=request.data)
        data.is_valid(raise_exception=True)
        token = data.validated_data.get("token") or secrets.token_hex(8)
        ping_worker.send(request.user.id, token)
        return Response({"token": token}, status=status.HTTP_202_ACCEPTED)
