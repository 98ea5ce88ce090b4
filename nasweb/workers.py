"""Worker process wiring: the worker-side code (and PyTorch with it) is loaded at boot, not by a first message; a
reaper in every worker process; and what the leases and messages of runs and ingestions share."""

import logging
import os
import socket
import threading

import redis
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.backends.signals import connection_created
from dramatiq import Middleware
from dramatiq.errors import BrokerConnectionError

logger = logging.getLogger(__name__)

# What sending a message raises while the broker is down: Dramatiq's Redis broker lets redis-py's errors through.
BROKER_UNREACHABLE = (BrokerConnectionError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# A queued run or upload no worker claimed for this long is sent again (its message may have died with a broker).
REQUEUE_AFTER_SECONDS = 120
# PostgreSQL ends a worker's session that has sat this long inside a transaction: a worker frozen there (paused,
# swapped out, its machine stalled) would otherwise hold its row locks for ever, and the reaper, waiting on the
# run's row, could never hand the run to another worker. Far above any transaction of ours (storing a run's model
# files, the longest, takes seconds).
FROZEN_TRANSACTION_SECONDS = 60


def worker_identity() -> str:
    """Who holds a lease (on a run or a dataset being ingested): host:pid:thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def postgres_url(database: dict, drivername: str, **query: str) -> str:
    """A Django PostgreSQL database's settings as an SQLAlchemy-style URL, password included."""
    from sqlalchemy.engine import URL

    return URL.create(drivername, username=database["USER"] or None, password=database["PASSWORD"] or None,
                      host=database["HOST"] or None, port=int(database["PORT"]) if database["PORT"] else None,
                      database=database["NAME"], query=query).render_as_string(hide_password=False)


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
