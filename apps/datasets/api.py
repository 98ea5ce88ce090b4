from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api import team_from_input, team_from_query

from . import services
from .selectors import dataset_get, dataset_image_list, dataset_list


class ClassCount(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField()


class FindingOutput(serializers.Serializer):
    severity = serializers.ChoiceField(choices=["error", "warning", "info"])
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(required=False)


class DatasetOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    team = serializers.IntegerField(source="team_id")
    status = serializers.CharField()
    task = serializers.CharField()
    num_images = serializers.IntegerField()
    classes = ClassCount(many=True)
    findings = FindingOutput(many=True)
    stats = serializers.DictField()
    training_sides = serializers.ListField(child=serializers.IntegerField(),
                                           help_text="Image sides in pixels a run may train this dataset at.")
    error = serializers.CharField()
    upload_size = serializers.IntegerField()
    upload_received = serializers.IntegerField()
    created = serializers.DateTimeField()


class DatasetListApi(APIView):
    parser_classes = [MultiPartParser]

    class DatasetCreateInput(serializers.Serializer):
        file = serializers.FileField()
        name = serializers.CharField(max_length=200)
        team = serializers.IntegerField(required=False, help_text="The team to upload into (default: your personal "
                                                                  "team).")

    @extend_schema(
        parameters=[OpenApiParameter("search", str), OpenApiParameter("sort", str, enum=["newest", "oldest", "name",
                                                                                          "largest"]),
                    OpenApiParameter("team", int, description="Only this team's datasets (default: all your teams')."
                                     " 404 for a team you are not in.")],
        responses=DatasetOutput(many=True),
    )
    def get(self, request):
        datasets = dataset_list(user=request.user, team=team_from_query(request),
                                search=request.query_params.get("search", ""),
                                sort=request.query_params.get("sort", "newest"))
        return Response(DatasetOutput(datasets, many=True).data)

    @extend_schema(request=DatasetCreateInput, responses={201: DatasetOutput})
    def post(self, request):
        data = self.DatasetCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = team_from_input(request, data.validated_data.get("team"))
        dataset = services.dataset_create_from_file(team=team, user=request.user, name=data.validated_data["name"],
                                                    file=data.validated_data["file"])
        return Response(DatasetOutput(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetailApi(APIView):
    class DatasetRenameInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)

    @extend_schema(responses=DatasetOutput)
    def get(self, request, dataset_id):
        return Response(DatasetOutput(dataset_get(user=request.user, dataset_id=dataset_id)).data)

    @extend_schema(request=DatasetRenameInput, responses=DatasetOutput)
    def patch(self, request, dataset_id):
        dataset = dataset_get(user=request.user, dataset_id=dataset_id)
        data = self.DatasetRenameInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(DatasetOutput(services.dataset_rename(dataset=dataset, user=request.user,
                                                              **data.validated_data)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, dataset_id):
        services.dataset_delete(dataset=dataset_get(user=request.user, dataset_id=dataset_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadStartApi(APIView):
    """Open a resumable upload; then PUT the bytes in order to the returned `upload_url`."""

    class UploadStartInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        size = serializers.IntegerField(min_value=1, help_text="Size of the whole file in bytes.")
        team = serializers.IntegerField(required=False, help_text="The team to upload into (default: your personal "
                                                                  "team).")

    @extend_schema(request=UploadStartInput, responses={201: DatasetOutput})
    def post(self, request):
        data = self.UploadStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = team_from_input(request, data.validated_data.get("team"))
        dataset = services.dataset_upload_start(team=team, user=request.user, name=data.validated_data["name"],
                                                size=data.validated_data["size"])
        return Response(DatasetOutput(dataset).data, status=status.HTTP_201_CREATED)


class RawBytesParser(BaseParser):
    """Hands the request body over as a stream, so a chunk is copied to disk without being held in memory."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


class UploadChunkApi(APIView):
    """Append bytes to a resumable upload. `Content-Range: bytes START-END/TOTAL`; START must equal the stored
    byte count (GET tells it), else 409 with the offset to resume from."""

    parser_classes = [RawBytesParser]

    class UploadProgressOutput(serializers.Serializer):
        received = serializers.IntegerField()
        size = serializers.IntegerField()
        status = serializers.CharField()

    @extend_schema(responses=UploadProgressOutput)
    def get(self, request, dataset_id):
        dataset = dataset_get(user=request.user, dataset_id=dataset_id)
        return Response(self.output(dataset))

    @extend_schema(request={"application/octet-stream": bytes},
                   responses={200: UploadProgressOutput, 409: UploadProgressOutput})
    def put(self, request, dataset_id):
        dataset = dataset_get(user=request.user, dataset_id=dataset_id)
        offset = content_range_start(request.headers.get("Content-Range", ""))
        # DRF parses no body that comes without a Content-Length (a chunked one): Django's request still holds it.
        chunk = request.data if hasattr(request.data, "read") else request._request
        dataset = services.dataset_upload_append(dataset_id=dataset.pk, user=request.user, offset=offset,
                                                 chunk=chunk)
        return Response(self.output(dataset))

    @staticmethod
    def output(dataset) -> dict:
        return {"received": dataset.upload_received, "size": dataset.upload_size, "status": dataset.status}


def content_range_start(header: str) -> int:
    try:
        unit, _, span = header.partition(" ")
        start = int(span.split("-", 1)[0])
    except ValueError:
        start = -1
    if unit != "bytes" or start < 0:
        raise ValidationError({"detail": "Send a Content-Range header such as 'bytes 0-1048575/5000000'."})
    return start


class DatasetImagesPagination(PageNumberPagination):
    page_size = 48


class DatasetImagesApi(APIView):
    class DatasetImageOutput(serializers.Serializer):
        id = serializers.IntegerField()
        path = serializers.CharField()
        label = serializers.CharField()
        width = serializers.IntegerField()
        height = serializers.IntegerField()
        thumbnail_url = serializers.SerializerMethodField()

        def get_thumbnail_url(self, image) -> str:
            return reverse("dataset-thumbnail", args=[image.dataset_id, image.pk])

    @extend_schema(parameters=[OpenApiParameter("label", str), OpenApiParameter("page", int)],
                   responses=DatasetImageOutput(many=True))
    def get(self, request, dataset_id):
        dataset = dataset_get(user=request.user, dataset_id=dataset_id)
        paginator = DatasetImagesPagination()
        images = dataset_image_list(dataset=dataset, label=request.query_params.get("label"))
        try:
            page = paginator.paginate_queryset(images, request, view=self)
        except NotFound:  # a page past the end, or no page number at all: nothing to show, not an error
            return Response({"count": images.count(), "next": None, "previous": None, "results": []})
        return paginator.get_paginated_response(self.DatasetImageOutput(page, many=True).data)
