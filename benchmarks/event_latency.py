"""Event latency from a worker to a browser's websocket, through the Redis channel layer and a real uvicorn.

    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python -m benchmarks.event_latency --events 300

The worker side is RunProgress, the code a search's events go through (stored in the database, then published);
the browser side is a websocket client with a logged-in session. Prints p50/p95/max in milliseconds.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL: this measures the Redis channel layer.")
    scratch = Path(tempfile.mkdtemp())
    os.environ.update(NASWEB_DATA_DIR=str(scratch), DJANGO_SETTINGS_MODULE="nasweb.settings.base",
                      NASWEB_REAPER_SECONDS="0")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from apps.datasets.models import Dataset
    from apps.runs.models import Run
    from apps.runs.progress import RunProgress

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    team = user.teams.get()
    dataset = Dataset.objects.create(team=team, name="d", status="ready")
    run = Run.objects.create(team=team, dataset=dataset, name="r", budget_seconds=60, original_budget_seconds=60)
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--port", str(args.port), "--lifespan", "off",
                               "nasweb.asgi:application"],
                              cwd=REPO, env=os.environ.copy(), stderr=subprocess.DEVNULL)
    try:
        wait_for_port(args.port)
        latencies = asyncio.run(measure(args, cookie, RunProgress(run)))
    finally:
        server.terminate()
    latencies.sort()
    print(f"| events | p50 (ms) | p95 (ms) | max (ms) | lost |\n| --- | --- | --- | --- | --- |\n"
          f"| {args.events} at {args.rate:g}/s | {statistics.median(latencies):.1f} | "
          f"{latencies[int(0.95 * (len(latencies) - 1))]:.1f} | {latencies[-1]:.1f} | {args.events - len(latencies)} |")


def wait_for_port(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the server did not listen on port {port}")


async def measure(args, cookie: str, progress) -> list[float]:
    import websockets

    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{args.port}"}
    received: list[float] = []
    async with websockets.connect(f"ws://127.0.0.1:{args.port}/ws/events/", additional_headers=headers) as socket:
        def publish():
            for index in range(args.events):
                # trial_finished is published at once (epoch updates are coalesced), like every milestone.
                progress({"type": "trial_finished", "trial_id": index, "sent_at": time.time(), "progress": 0.5})
                time.sleep(1 / args.rate)

        sender = threading.Thread(target=publish)
        sender.start()
        deadline = time.monotonic() + args.events / args.rate + 10
        while len(received) < args.events and time.monotonic() < deadline:
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), timeout=1))
            except TimeoutError:
                continue
            if message.get("type") == "run.event":
                received.append(1000 * (time.time() - message["event"]["sent_at"]))
        sender.join()
    return received


if __name__ == "__main__":
    main()
