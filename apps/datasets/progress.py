"""What the team's pages hear of a dataset: its ingestion's progress, and its status when it changes (which both the
ingestion, in processing.py, and the reaper, in services.py, publish)."""

import time

from apps.live.services import team_event_publish

from .models import Dataset

PROGRESS_INTERVAL_SECONDS = 0.25


class IngestionProgress:
    """Publishes ingestion progress to the team's pages, a few times per second at most."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.last_sent = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last_sent < PROGRESS_INTERVAL_SECONDS and done < total:
            return
        self.last_sent = now
        team_event_publish(team_id=self.dataset.team_id, payload={
            "type": "dataset.progress", "dataset": self.dataset.pk, "stage": stage, "done": done, "total": total,
        })


def dataset_status_publish(dataset: Dataset) -> None:
    team_event_publish(team_id=dataset.team_id, payload={
        "type": "dataset.status", "dataset": dataset.pk, "status": dataset.status, "error": dataset.error,
        "num_images": dataset.num_images})
