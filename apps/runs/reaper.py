import logging
import threading

from django.conf import settings
from django.db import close_old_connections
from dramatiq import Middleware

logger = logging.getLogger(__name__)


class RunReaper(Middleware):
    """Every worker process also re-queues runs whose worker died: no run stays "running" on a stale lease."""

    def __init__(self):
        self.stopping = threading.Event()

    def after_worker_boot(self, broker, worker):
        if settings.NASWEB_REAPER_SECONDS:
            self.stopping.clear()
            threading.Thread(target=self.loop, daemon=True, name="run-reaper").start()

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()

    def loop(self) -> None:
        from .services import runs_reap

        while not self.stopping.wait(settings.NASWEB_REAPER_SECONDS):
            try:
                runs_reap()
            except Exception:
                logger.exception("reaping stale runs failed; trying again later")
            finally:
                close_old_connections()
