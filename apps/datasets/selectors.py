from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Dataset, DatasetImage

SORTS = {"newest": "-created", "oldest": "created", "name": "name", "largest": "-num_images"}


def dataset_list(*, user, search: str = "", sort: str = "newest") -> QuerySet[Dataset]:
    """The datasets of every team the user belongs to."""
    datasets = Dataset.objects.filter(team__members=user).select_related("team", "created_by")
    if search:
        datasets = datasets.filter(name__icontains=search)
    return datasets.order_by(SORTS.get(sort, SORTS["newest"]), "-pk")


def dataset_get(*, user, dataset_id: int) -> Dataset:
    """One dataset of the user's teams; 404 for anything else, so outsiders learn nothing."""
    return get_object_or_404(dataset_list(user=user), pk=dataset_id)


def dataset_image_list(*, dataset: Dataset, label: str | None = None) -> QuerySet[DatasetImage]:
    images = dataset.images.all()
    return images.filter(label=label) if label else images
