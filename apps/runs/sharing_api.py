"""Share links: the team makes and revokes them; anyone holding one reads that run's result, and nothing else."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_dataclasses.serializers import DataclassSerializer

from apps.nas.results import Candidate, SearchResult

from . import services
from .api import BestOutput, after_param, artifact_response
from .selectors import (
    run_event_list,
    run_get,
    share_link_get,
    share_link_list,
    shared_artifact_list,
    shared_event_payload,
    shared_link_get,
)


class ShareLinkOutput(serializers.Serializer):
    id = serializers.IntegerField()
    allow_download = serializers.BooleanField()
    token_hint = serializers.CharField(help_text="The first characters of the link's token.")
    created_by = serializers.CharField(source="created_by.get_username", allow_null=True, default=None)
    created = serializers.DateTimeField()


class ShareLinkCreatedOutput(ShareLinkOutput):
    url = serializers.URLField(help_text="The link to hand out. Shown this once: only a hash of it is kept.")


class ShareLinkListApi(APIView):
    class ShareLinkCreateInput(serializers.Serializer):
        allow_download = serializers.BooleanField(default=False)

    @extend_schema(responses=ShareLinkOutput(many=True))
    def get(self, request, run_id):
        return Response(ShareLinkOutput(share_link_list(run=run_get(user=request.user, run_id=run_id)), many=True).data)

    @extend_schema(request=ShareLinkCreateInput, responses={201: ShareLinkCreatedOutput})
    def post(self, request, run_id):
        run = run_get(user=request.user, run_id=run_id)
        data = self.ShareLinkCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        link, token = services.share_link_create(run=run, user=request.user, **data.validated_data)
        link.url = request.build_absolute_uri(reverse("run-shared", args=[token]))
        return Response(ShareLinkCreatedOutput(link).data, status=status.HTTP_201_CREATED)


class ShareLinkDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, run_id, link_id):
        services.share_link_revoke(link=share_link_get(user=request.user, run_id=run_id, link_id=link_id),
                                   user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedApi(APIView):
    """Public: the token in the URL is the whole permission."""

    authentication_classes = []
    permission_classes = [AllowAny]


class SharedRunOutput(serializers.Serializer):
    name = serializers.CharField(source="run.name")
    status = serializers.CharField(source="run.status")
    best = BestOutput(source="run.best", allow_null=True)
    allow_download = serializers.BooleanField()
    artifacts = serializers.SerializerMethodField(help_text="The files this link may download.")
    finished = serializers.DateTimeField(source="run.finished", allow_null=True)

    def get_artifacts(self, link) -> list[str]:
        return shared_artifact_list(link=link)


class SharedRunApi(SharedApi):
    @extend_schema(responses=SharedRunOutput)
    def get(self, request, token):
        return Response(SharedRunOutput(shared_link_get(token=token)).data)


class SharedCandidateOutput(DataclassSerializer):
    class Meta:
        dataclass = Candidate
        exclude = ("worker",)
        ref_name = "SharedCandidate"


class SharedResultOutput(DataclassSerializer):
    """What a share link shows of a result: the model and its scores, not the team's images, file paths, or which
    machine trained what."""

    leaderboard = SharedCandidateOutput(many=True)

    class Meta:
        dataclass = SearchResult
        exclude = ("misclassified", "files")
        ref_name = "SharedResult"


class SharedResultApi(SharedApi):
    @extend_schema(responses=SharedResultOutput)
    def get(self, request, token):
        return Response(SharedResultOutput(shared_link_get(token=token).run.result).data)


class SharedEventsApi(SharedApi):
    class SharedEventOutput(serializers.Serializer):
        seq = serializers.IntegerField()
        type = serializers.CharField()
        payload = serializers.SerializerMethodField()
        created = serializers.DateTimeField()

        def get_payload(self, event) -> dict:
            return shared_event_payload(event)

    @extend_schema(parameters=[OpenApiParameter("after", int, description="Only events with a larger seq.")],
                   responses=SharedEventOutput(many=True))
    def get(self, request, token):
        run = shared_link_get(token=token).run
        return Response(self.SharedEventOutput(run_event_list(run=run, after=after_param(request)), many=True).data)


class SharedArtifactApi(SharedApi):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, token, kind):
        link = shared_link_get(token=token)
        return artifact_response(link.run, kind, kinds=shared_artifact_list(link=link))
