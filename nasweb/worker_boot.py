"""Worker process wiring: the worker-side code (and PyTorch with it) is loaded at boot, not by a first message, and
a reaper runs in every worker process."""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.backends.signals import connection_created
from dramatiq import Middleware

from nasweb.workers import FROZEN_TRANSACTION_SECONDS

logger = logging.getLogger(__name__)


def worker_prepare() -> None:
    """Load the worker-side code and size PyTorch's thread pool; call once per worker process."""
    # PyTorch takes seconds to import, longer on a busy machine: loading it here keeps that wait out of the first
    # search or ingestion. A web process in a deployment with separate workers never calls this.
    import torch

    import apps.datasets.processing  # noqa: F401
    import apps.runs.execution  # noqa: F401
    from apps.nas.train import default_cpu_threads
    from apps.runs.gpus import worker_device

    torch.set_num_threads(settings.NASWEB_TORCH_THREADS or default_cpu_threads())
    worker_device()  # claim this worker's GPU at boot, before a search needs it
    connection_created.connect(end_frozen_transactions)
    connections.close_all()  # the connections opened before this one get the setting too, when they reopen


def end_frozen_transactions(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {FROZEN_TRANSACTION_SECONDS * 1000}")


class WorkerBoot(Middleware):
    def after_process_boot(self, broker):
        worker_prepare()


class Reaper(Middleware):
    """Every worker process also sends again the runs and uploads whose worker died, or that no worker claimed: none
    stays "running" or "ingesting" on a stale lease, or queued behind a lost message."""

    def __init__(self):
        self.stopping = threading.Event()

    def after_worker_boot(self, broker, worker):
        if settings.NASWEB_REAPER_SECONDS:
            self.stopping.clear()
            threading.Thread(target=self.loop, daemon=True, name="reaper").start()

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()

    def loop(self) -> None:
        from apps.datasets.services import datasets_reap
        from apps.runs.services import runs_reap

        while not self.stopping.wait(settings.NASWEB_REAPER_SECONDS):
            for reap in (runs_reap, datasets_reap):
                try:
                    reap()
                except Exception:
                    logger.exception("%s failed; trying again later", reap.__name__)
            close_old_connections()
