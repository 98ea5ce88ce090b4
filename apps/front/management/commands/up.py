import functools
import signal
import subprocess
import sys

import dramatiq
import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from dramatiq.brokers.stub import StubBroker

from apps.accounts.services import demo_user_ensure
from apps.datasets.samples import digits_archive_ensure
from nasweb.worker_boot import worker_prepare


class Command(BaseCommand):
    help = "Start NASweb on this machine: migrate, prepare the demo account and sample data, serve HTTP + websockets."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--worker-threads", type=int, default=2, help="background threads: uploads, and in "
                            "embedded mode runs (each in a process of its own)")
        parser.add_argument("--worker-processes", type=int, default=1,
                            help="with a broker configured (REDIS_URL): runs trained at once, one per process")

    def handle(self, *args, host, port, worker_threads, worker_processes, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        demo, password = demo_user_ensure()
        sample = digits_archive_ensure(settings.DATA_DIR / "samples" / "digits.zip")

        broker = dramatiq.get_broker()
        if isinstance(broker, StubBroker):
            worker_prepare()
            worker = dramatiq.Worker(broker, worker_threads=worker_threads)
            worker.start()
            stop_worker = worker.stop
            worker_note = "in this process (embedded mode)"
        else:
            # A run's worker process takes one run at a time: PyTorch's process-global state (torch.fx's, which
            # ONNX export uses) is not safe for two runs at once. Uploads and pings have threads of their own.
            children = [
                subprocess.Popen([sys.executable, "manage.py", "rundramatiq", "--queues", "runs",
                                  "--processes", str(worker_processes), "--threads", "1"], cwd=settings.BASE_DIR),
                subprocess.Popen([sys.executable, "manage.py", "rundramatiq", "--queues", "default",
                                  "--processes", "1", "--threads", str(worker_threads)], cwd=settings.BASE_DIR),
            ]
            stop_worker = functools.partial(self.stop_children, children)
            worker_note = (f"{worker_processes} process(es) for runs, one at a time each, and one for uploads, under "
                           f"child processes {', '.join(str(child.pid) for child in children)}")

        self.stdout.write(
            f"\nNASweb is running at http://{host}:{port}/\n"
            f"  Log in as {demo.get_username()} / {password}  (or sign up)\n"
            f"  Sample dataset to try: {sample}\n"
            f"  Data folder: {settings.DATA_DIR}\n"
            f"  Background worker: {worker_note}\n"
            "Press Ctrl+C to stop.\n"
        )
        self.stdout.flush()
        from nasweb.asgi import application

        # uvicorn hands a request's body to the application as it arrives, pausing the socket while the
        # application has not taken it, so nasweb.body_limit can refuse an oversized body while reading it (Twisted,
        # under daphne, parsed a whole multipart body in memory first). Forwarded headers are not trusted: the
        # client's address is the socket's.
        server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, lifespan="off", log_config=None,
                                               access_log=False, server_header=False, proxy_headers=False,
                                               timeout_graceful_shutdown=10))
        # uvicorn raises the signal that stopped it again once it has shut down: let SIGTERM end like Ctrl+C, so
        # that the worker is stopped below instead of the process being killed with it.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            stop_worker()

    @staticmethod
    def stop_children(children: list[subprocess.Popen]) -> None:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
