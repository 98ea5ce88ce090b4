"""Peak memory of the web process while a large archive uploads through the resumable chunked API.

    .venv/bin/python -m benchmarks.upload_memory --gigabytes 1

Starts uvicorn on a scratch data folder, streams GIGABYTES of random bytes in 8 MB chunks (never holding more than
one chunk here either) and samples the server's resident memory (VmRSS) every 0.1 s. Prints a markdown table.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHUNK = 8 * 1024 * 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def request(url: str, token: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": f"Token {token}", **(headers or {})})
    with urllib.request.urlopen(req, timeout=120) as response:
        return json.loads(response.read() or b"{}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    size = int(args.gigabytes * 2**30)
    scratch = tempfile.mkdtemp()
    os.environ.update(NASWEB_DATA_DIR=scratch, DJANGO_SETTINGS_MODULE="nasweb.settings.base",
                      NASWEB_MAX_UPLOAD_BYTES=str(size + 1))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from apps.accounts.services import token_create

    call_command("migrate", verbosity=0)
    _, token = token_create(user=get_user_model().objects.create_user("bench", password="x-bench-9"), name="bench")
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--port", str(args.port), "--lifespan", "off",
                               "nasweb.asgi:application"],
                              cwd=REPO, env=os.environ.copy(), stderr=subprocess.DEVNULL)
    samples: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", args.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        idle = rss_mb(server.pid)
        done = threading.Event()

        def sample():
            while not done.is_set():
                samples.append(rss_mb(server.pid))
                time.sleep(0.1)

        threading.Thread(target=sample, daemon=True).start()
        base = f"http://127.0.0.1:{args.port}/api/datasets"
        started = request(f"{base}/uploads/", token, "POST", json.dumps({"name": "big", "size": size}).encode(),
                          {"Content-Type": "application/json"})
        began = time.monotonic()
        for offset in range(0, size, CHUNK):
            chunk = os.urandom(min(CHUNK, size - offset))
            request(f"{base}/{started['id']}/upload/", token, "PUT", chunk, {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {offset}-{offset + len(chunk) - 1}/{size}"})
        seconds = time.monotonic() - began
        done.set()
    finally:
        server.terminate()
    print(f"| upload | web process idle (MB) | peak while uploading (MB) | throughput (MB/s) |\n"
          f"| --- | --- | --- | --- |\n"
          f"| {args.gigabytes:g} GB in {CHUNK >> 20} MB chunks | {idle:.0f} | {max(samples):.0f} | "
          f"{size / 2**20 / seconds:.0f} |")


if __name__ == "__main__":
    main()
