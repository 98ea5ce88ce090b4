import mimetypes

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.current_team import current_team_get
from apps.accounts.permissions import can_write, write_access_check
from apps.accounts.quotas import QuotaExceeded

from . import services
from .selectors import SORTS, dataset_get, finding_list
from .selectors import dataset_list as datasets_of


@login_required
@require_GET
def dataset_list(request):
    search, sort = request.GET.get("q", "").strip(), request.GET.get("sort", "newest")
    datasets = datasets_of(user=request.user, team=current_team_get(request), search=search, sort=sort)
    return render(request, "datasets/list.html", {"datasets": datasets, "q": search, "sort": sort, "sorts": SORTS})


@login_required
@require_GET
def dataset_new(request):
    team = current_team_get(request)
    write_access_check(user=request.user, team=team, doing="upload datasets")
    return render(request, "datasets/new.html", {"max_upload_bytes": settings.NASWEB_MAX_UPLOAD_BYTES, "team": team})


@login_required
@require_POST
def dataset_sample(request):
    try:
        dataset = services.dataset_create_sample(team=current_team_get(request), user=request.user)
    except QuotaExceeded as refused:
        messages.error(request, str(refused))
        return redirect("dataset-list")
    return redirect("dataset-detail", dataset.pk)


@login_required
@require_GET
def dataset_detail(request, dataset_id):
    dataset = dataset_get(user=request.user, dataset_id=dataset_id)
    largest = max((c["count"] for c in dataset.classes), default=1)
    sizes = [{"label": size_label(bin_["min_side"], bin_["max_side"]), "count": bin_["count"]}
             for bin_ in dataset.stats.get("size_histogram", []) if bin_["count"]]
    return render(request, "datasets/detail.html", {"dataset": dataset, "findings": finding_list(dataset=dataset),
                                                    "largest_class": largest, "sizes": sizes,
                                                    "can_write": can_write(user=request.user, team=dataset.team)})


def size_label(low: int, high: int | None) -> str:
    return f"{low}+ px" if high is None else f"under {high + 1} px" if low == 0 else f"{low}–{high} px"


@login_required
@require_POST
def dataset_rename(request, dataset_id):
    dataset = dataset_get(user=request.user, dataset_id=dataset_id)
    name = request.POST.get("name", "").strip()[:200]
    if name:
        services.dataset_rename(dataset=dataset, user=request.user, name=name)
    return redirect("dataset-detail", dataset.pk)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_delete(request, dataset_id):
    dataset = dataset_get(user=request.user, dataset_id=dataset_id)
    write_access_check(user=request.user, team=dataset.team, doing="delete datasets")
    if request.method == "POST":
        try:
            services.dataset_delete(dataset=dataset, user=request.user)
        except services.DatasetInUse as error:
            messages.error(request, str(error))
            return redirect("dataset-detail", dataset.pk)
        messages.success(request, f"Deleted the dataset “{dataset.name}”.")
        return redirect("dataset-list")
    return render(request, "datasets/delete.html", {"dataset": dataset})


@login_required
@require_GET
def dataset_thumbnail(request, dataset_id, image_id):
    dataset = dataset_get(user=request.user, dataset_id=dataset_id)
    image = get_object_or_404(dataset.images, pk=image_id)
    content_type = mimetypes.guess_type(image.thumbnail)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(image.thumbnail, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response
