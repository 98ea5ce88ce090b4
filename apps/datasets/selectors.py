from django.db.models import QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.urls import reverse

from apps.accounts.models import Team
from apps.accounts.permissions import can_write

from .models import Dataset, DatasetImage

SORTS = {"newest": "-created", "oldest": "created", "name": "name", "largest": "-num_images"}


def dataset_list(*, user, team: Team | None = None, search: str = "", sort: str = "newest") -> QuerySet[Dataset]:
    """The datasets of every team the user belongs to, or of one of them."""
    datasets = Dataset.objects.filter(team__members=user).select_related("team", "created_by")
    if team is not None:
        datasets = datasets.filter(team=team)
    if search:
        datasets = datasets.filter(name__icontains=search)
    return datasets.order_by(SORTS.get(sort, SORTS["newest"]), "-pk")


def dataset_get(*, user, dataset_id: int) -> Dataset:
    """One dataset of the user's teams; 404 for anything else, so outsiders learn nothing."""
    return get_object_or_404(dataset_list(user=user), pk=dataset_id)


def dataset_upload_room(*, user, dataset_id: int) -> int:
    """Bytes the user may still send to a resumable upload: 0 unless it is in one of their teams and they may write
    there."""
    dataset = dataset_list(user=user).filter(pk=dataset_id).first()
    if dataset is None or not can_write(user=user, team=dataset.team):
        return 0
    return dataset.upload_size - dataset.upload_received


def dataset_image_list(*, dataset: Dataset, label: str | None = None) -> QuerySet[DatasetImage]:
    images = dataset.images.all()
    return images.filter(label=label) if label else images


def team_stored_bytes(*, team: Team) -> int:
    """Bytes a team's datasets take against its quota: their uploaded archives, unfinished uploads at the size
    announced (so parallel uploads cannot overrun the quota together)."""
    return team.datasets.aggregate(total=Sum("upload_size"))["total"] or 0


# A finding shows at most this many of its example groups (duplicates, conflicts) or images (tiny, grey).
EXAMPLE_GROUPS_SHOWN = 4
EXAMPLE_IMAGES_SHOWN = 8


def finding_list(*, dataset: Dataset) -> list[dict]:
    """The dataset's findings, each with `examples`: groups of its images ({path, label, thumbnail_url}), the
    copies or conflicting labels side by side, so that people see what to fix. Unreadable files have no picture:
    the page lists them by name."""
    findings = [{**finding, "examples": example_paths(finding)} for finding in dataset.findings]
    wanted = {path for finding in findings for group in finding["examples"] for path in group}
    images = {image.path: image for image in dataset.images.filter(path__in=wanted)}
    for finding in findings:
        finding["examples"] = [
            [{"path": path, "label": images[path].label,
              "thumbnail_url": reverse("dataset-thumbnail", args=[dataset.pk, images[path].pk])}
             for path in group if path in images]
            for group in finding["examples"]]
    return findings


def example_paths(finding: dict) -> list[list[str]]:
    """The paths of a finding's examples, grouped as the page shows them."""
    details = finding.get("details", {})
    if "examples" in details:  # exact_duplicates, near_duplicates, label_conflicts: groups of alike images
        return details["examples"][:EXAMPLE_GROUPS_SHOWN]
    files = details.get("grey_examples") or details.get("files") or []
    paths = [file for file in files if isinstance(file, str)]  # unreadable files come as {path, reason}
    return [paths[:EXAMPLE_IMAGES_SHOWN]] if paths else []
