"""Worker process wiring: the worker-side code (and PyTorch with it) is loaded at boot, not by a first message."""

from django.conf import settings
from dramatiq import Middleware


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


class WorkerBoot(Middleware):
    def after_process_boot(self, broker):
        worker_prepare()
