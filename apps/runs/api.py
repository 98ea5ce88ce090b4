import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_dataclasses.serializers import DataclassSerializer

from apps.accounts.api import team_from_input, team_from_query
from apps.datasets.selectors import dataset_get
from apps.nas.names import ARTIFACT_FILES, BACKBONE_NAMES, BLOCK_TYPES, STRATEGIES, STRATEGY_SENTENCES
from apps.nas.results import BestModel, Mistake, SearchResult

from . import services
from .budgets import MAX_BUDGET_SECONDS, MIN_BUDGET_SECONDS, candidates_estimate, recipe_epochs_estimate
from .markdown import markdown_to_html
from .models import MAX_PARAMS_LIMIT, MAX_PARAMS_MESSAGE, MAX_SEED, RUN_BEST_FIELDS, SEED_MESSAGE
from .predict import run_predict
from .selectors import note_get, note_list, run_event_list, run_get, run_list, run_trial_list, worker_speed


def strategy_field() -> serializers.ChoiceField:
    """The search strategy a script may choose, each explained in the schema."""
    explained = "\n".join(f"- `{name}`: {sentence}" for name, sentence in STRATEGY_SENTENCES.items())
    return serializers.ChoiceField(choices=list(STRATEGIES.items()), default="auto",
                                   help_text=f"How the search picks the candidates it trains:\n\n{explained}")


class BestOutput(DataclassSerializer):
    """The best model's headline figures, kept on the run for lists and comparisons."""

    class Meta:
        dataclass = BestModel
        fields = RUN_BEST_FIELDS
        ref_name = "RunBest"  # the schema's BestModel is the whole one, inside the result


class MistakeOutput(DataclassSerializer):
    thumbnail_url = serializers.CharField(allow_null=True, help_text="The test image, small; null once deleted.")

    class Meta:
        dataclass = Mistake
        ref_name = "MistakeShown"


class ResultOutput(DataclassSerializer):
    """The engine's SearchResult (apps.nas.results), as the result page reads it."""

    misclassified = MistakeOutput(many=True)

    class Meta:
        dataclass = SearchResult
        ref_name = "RunResult"


class RunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    team = serializers.IntegerField(source="team_id")
    dataset = serializers.IntegerField(source="dataset_id")
    status = serializers.CharField()
    progress = serializers.FloatField()
    eta_seconds = serializers.FloatField(allow_null=True, help_text="Null while the run waits for a worker.")
    waiting_for_worker_since = serializers.DateTimeField(
        allow_null=True, help_text="When a queued or running run began to wait for a worker (its worker stopped "
                                   "responding, or none took it); null while a worker trains it or once it ended.")
    budget_seconds = serializers.FloatField()
    strategy = serializers.CharField()
    seed = serializers.IntegerField()
    max_latency_ms = serializers.FloatField(allow_null=True)
    max_params = serializers.IntegerField(allow_null=True)
    max_model_mb = serializers.FloatField(allow_null=True)
    space = serializers.DictField()
    resolution = serializers.IntegerField(allow_null=True)
    device = serializers.CharField()
    workers = serializers.IntegerField(help_text="Workers training its candidates at once, at most.")
    attempts = serializers.IntegerField()
    best = BestOutput(allow_null=True)
    artifacts = serializers.SerializerMethodField()
    error = serializers.CharField()
    created = serializers.DateTimeField()
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)

    def get_artifacts(self, run) -> list[str]:
        return sorted(run.artifacts)

    def to_representation(self, run):
        data = super().to_representation(run)
        if data["waiting_for_worker_since"] is not None:
            data["eta_seconds"] = None  # it stopped counting down with the worker
        return data


class RunListApi(APIView):
    class RunCreateInput(serializers.Serializer):
        dataset = serializers.IntegerField()
        budget_seconds = serializers.FloatField()
        strategy = strategy_field()
        seed = serializers.IntegerField(default=0, min_value=0, max_value=MAX_SEED,
                                        error_messages={"min_value": SEED_MESSAGE, "max_value": SEED_MESSAGE})
        max_latency_ms = serializers.FloatField(required=False, allow_null=True, min_value=0.01)
        max_params = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_PARAMS_LIMIT,
                                              error_messages={"min_value": MAX_PARAMS_MESSAGE,
                                                              "max_value": MAX_PARAMS_MESSAGE})
        max_model_mb = serializers.FloatField(required=False, allow_null=True, min_value=0.001)
        block_types = serializers.ListField(child=serializers.ChoiceField(choices=list(BLOCK_TYPES.items())),
                                            required=False, allow_empty=False,
                                            help_text="Building blocks the search may use (default: all).")
        backbones = serializers.ListField(
            child=serializers.ChoiceField(choices=list(BACKBONE_NAMES.items())), required=False,
            help_text="Pretrained ImageNet networks the search may start from (default: all); [] searches only "
                      "networks trained from scratch.")
        resolution = serializers.IntegerField(
            required=False, allow_null=True, min_value=1,
            help_text="Image side in pixels to train at (default: the dataset's own); the dataset's "
                      "`training_sides` lists what is allowed.")
        name = serializers.CharField(required=False, allow_blank=True, max_length=200)
        team = serializers.IntegerField(required=False, help_text="Must be the dataset's team, where the run goes "
                                                                  "anyway; a check for scripts.")

    @extend_schema(parameters=[OpenApiParameter("team", int, description="Only this team's runs (default: all your "
                                                "teams'). 404 for a team you are not in.")],
                   responses=RunOutput(many=True))
    def get(self, request):
        return Response(RunOutput(run_list(user=request.user, team=team_from_query(request)), many=True).data)

    @extend_schema(request=RunCreateInput, responses={201: RunOutput})
    def post(self, request):
        data = self.RunCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        dataset = dataset_get(user=request.user, dataset_id=fields.pop("dataset"))
        team = team_from_input(request, fields.pop("team")) if "team" in fields else dataset.team
        run = services.run_create(team=team, user=request.user, dataset=dataset, **fields)
        return Response(RunOutput(run).data, status=status.HTTP_201_CREATED)


class RunEstimateApi(APIView):
    class EstimateInput(serializers.Serializer):
        dataset = serializers.IntegerField()
        budget_seconds = serializers.FloatField(min_value=MIN_BUDGET_SECONDS,
                                                max_value=MAX_BUDGET_SECONDS)
        strategy = strategy_field()
        from_scratch_only = serializers.BooleanField(
            default=False, help_text="True when the run will have no pretrained networks (`backbones: []`): only "
                                     "then may auto train its proven network alone on a short budget.")

    class EstimateOutput(serializers.Serializer):
        candidates = serializers.IntegerField(help_text="Candidate networks the search is expected to train.")
        candidates_low = serializers.IntegerField(
            help_text="The fewest it is likely to train: runs vary, by what the search draws (cheap heads on cached "
                      "features, or slow fine-tunes); measured from this deployment's runs once two have finished.")
        candidates_high = serializers.IntegerField(help_text="The most it is likely to train.")
        recipe_epochs = serializers.IntegerField(
            help_text="When the budget is too short for a search to pay, auto trains its proven network alone, on "
                      "all training images, for about this many epochs (candidates is then 1); 0 when it searches.")
        search_seconds = serializers.FloatField(help_text="Of the budget, the part spent training candidates.")
        measured_runs = serializers.IntegerField(
            help_text="Recent finished runs the workers' speed was measured on; 0: a 2-core CPU is assumed.")

    @extend_schema(parameters=[EstimateInput], responses=EstimateOutput)
    def get(self, request):
        data = self.EstimateInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        dataset = dataset_get(user=request.user, dataset_id=fields["dataset"])
        speed = worker_speed(dataset=dataset, strategy=fields["strategy"])
        budget = fields["budget_seconds"]
        recipe_epochs = 0
        if fields["strategy"] == "auto" and fields["from_scratch_only"]:
            recipe_epochs = recipe_epochs_estimate(speed, images=dataset.num_images, budget_seconds=budget)
        low, likely, high = (1, 1, 1) if recipe_epochs else candidates_estimate(
            speed, images=dataset.num_images, budget_seconds=budget)
        return Response(self.EstimateOutput({
            "candidates": likely, "candidates_low": low, "candidates_high": high,
            "recipe_epochs": recipe_epochs, "search_seconds": round(budget * speed.search_share),
            "measured_runs": speed.runs,
        }).data)


class RunDetailApi(APIView):
    @extend_schema(responses=RunOutput)
    def get(self, request, run_id):
        return Response(RunOutput(run_get(user=request.user, run_id=run_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, run_id):
        services.run_delete(run=run_get(user=request.user, run_id=run_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunResultApi(APIView):
    @extend_schema(responses=ResultOutput)
    def get(self, request, run_id):
        run = run_get(user=request.user, run_id=run_id)
        if run.result is None:
            raise Http404("This run has no result yet.")
        return Response(ResultOutput(with_thumbnails(run)).data)


def with_thumbnails(run) -> dict:
    """The result, its misclassified test images given the URLs of their thumbnails."""
    mistakes = run.result.get("misclassified", [])
    images = dict(run.dataset.images.filter(path__in=[m["path"] for m in mistakes]).values_list("path", "pk"))
    for mistake in mistakes:
        image_id = images.get(mistake["path"])
        mistake["thumbnail_url"] = reverse("dataset-thumbnail", args=[run.dataset_id, image_id]) if image_id else None
    return run.result


class RunEventsApi(APIView):
    class RunEventOutput(serializers.Serializer):
        seq = serializers.IntegerField()
        type = serializers.CharField()
        payload = serializers.DictField()
        created = serializers.DateTimeField()

    @extend_schema(parameters=[OpenApiParameter("after", int, description="Only events with a larger seq.")],
                   responses=RunEventOutput(many=True))
    def get(self, request, run_id):
        run = run_get(user=request.user, run_id=run_id)
        return Response(self.RunEventOutput(run_event_list(run=run, after=after_param(request)), many=True).data)


class RunTrialsApi(APIView):
    class TrialOutput(serializers.Serializer):
        number = serializers.IntegerField(help_text="The candidate's number in the search (the events' trial_id).")
        name = serializers.CharField(help_text="A short name anyone can read, e.g. \"small photo network, last layers "
                                               "tuned\"; empty in runs started before candidates had names.")
        status = serializers.ChoiceField(
            choices=["running", "complete", "pruned", "infeasible", "failed"],
            help_text="pruned: stopped before the end of its schedule (early stopping, or out of time); "
                      "infeasible: skipped untrained (over a deployment limit, or too slow for the time left).")
        worker = serializers.CharField(help_text="host:pid of the worker that trained it; empty if never trained.")
        started_at = serializers.DateTimeField()
        finished_at = serializers.DateTimeField(allow_null=True)
        val_accuracy = serializers.FloatField(allow_null=True)
        cv_accuracy = serializers.FloatField(
            allow_null=True, help_text="On small data, its 5-fold cross-validated accuracy over every image the test "
                                       "split does not hold; null where it was scored on the validation split alone.")

    @extend_schema(responses=TrialOutput(many=True))
    def get(self, request, run_id):
        run = run_get(user=request.user, run_id=run_id)
        return Response(self.TrialOutput(run_trial_list(run=run), many=True).data)


def after_param(request) -> int:
    try:
        return int(request.query_params.get("after", 0))
    except ValueError as error:
        raise ValidationError({"after": "A whole number, the last seq you have."}) from error


class RunCancelApi(APIView):
    @extend_schema(request=None, responses=RunOutput)
    def post(self, request, run_id):
        run = services.run_cancel(run=run_get(user=request.user, run_id=run_id), user=request.user)
        return Response(RunOutput(run).data)


class RunRetryApi(APIView):
    @extend_schema(request=None, responses=RunOutput,
                   description="Queue a failed run again: it continues from the candidates it had trained.")
    def post(self, request, run_id):
        run = services.run_retry(run=run_get(user=request.user, run_id=run_id), user=request.user)
        return Response(RunOutput(run).data)


class RunExtendApi(APIView):
    class RunExtendInput(serializers.Serializer):
        seconds = serializers.FloatField(min_value=1)

    @extend_schema(request=RunExtendInput, responses=RunOutput)
    def post(self, request, run_id):
        run = run_get(user=request.user, run_id=run_id)
        data = self.RunExtendInput(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.run_extend(run=run, user=request.user, seconds=data.validated_data["seconds"])
        return Response(RunOutput(run).data)


class RunArtifactApi(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, run_id, kind):
        return artifact_response(run_get(user=request.user, run_id=run_id), kind)


def artifact_response(run, kind: str, kinds=ARTIFACT_FILES) -> FileResponse:
    """One of the run's files, if `kind` is one of `kinds`."""
    if kind not in kinds or kind not in run.artifacts:
        raise Http404("No such file for this run.")
    # The path comes from the database, never from the request.
    path = run.artifacts[kind]
    filename = f"nasweb-run-{run.pk}-{ARTIFACT_FILES[kind]}"
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return FileResponse(default_storage.open(path, "rb"), as_attachment=True, filename=filename,
                        content_type=content_type)


class PredictionOutput(serializers.Serializer):
    label = serializers.CharField()
    confidence = serializers.FloatField()


class PredictOutput(serializers.Serializer):
    predictions = PredictionOutput(many=True)


class RunPredictApi(APIView):
    parser_classes = [MultiPartParser]

    class PredictInput(serializers.Serializer):
        image = serializers.FileField()

    @extend_schema(request=PredictInput, responses=PredictOutput)
    def post(self, request, run_id):
        run = run_get(user=request.user, run_id=run_id)
        data = self.PredictInput(data=request.data)
        data.is_valid(raise_exception=True)
        predictions = run_predict(run=run, image_file=data.validated_data["image"])
        return Response(PredictOutput({"predictions": predictions}).data)


class NoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField(source="author.get_username", allow_null=True, default=None)
    body = serializers.CharField(help_text="Markdown, as written.")
    html = serializers.SerializerMethodField(help_text="The markdown rendered, with any HTML in it escaped.")
    created = serializers.DateTimeField()

    def get_html(self, note) -> str:
        return markdown_to_html(note.body)


class NoteListApi(APIView):
    class NoteCreateInput(serializers.Serializer):
        body = serializers.CharField(max_length=10_000)

    @extend_schema(responses=NoteOutput(many=True))
    def get(self, request, run_id):
        return Response(NoteOutput(note_list(run=run_get(user=request.user, run_id=run_id)), many=True).data)

    @extend_schema(request=NoteCreateInput, responses={201: NoteOutput})
    def post(self, request, run_id):
        run = run_get(user=request.user, run_id=run_id)
        data = self.NoteCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_create(run=run, user=request.user, body=data.validated_data["body"])
        return Response(NoteOutput(note).data, status=status.HTTP_201_CREATED)


class NoteDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, run_id, note_id):
        services.note_delete(note=note_get(user=request.user, run_id=run_id, note_id=note_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
