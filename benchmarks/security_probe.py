"""Replays issue 29's hostile requests against a running NASweb and prints a markdown table of what came back.

    .venv/bin/python benchmarks/security_probe.py            # starts `manage.py up` (embedded) on a fresh data folder
    .venv/bin/python benchmarks/security_probe.py --url http://127.0.0.1:8000 --pid 1234 \\
        --username demo --password ... --dataset 3           # a server already running (pid: for its memory)

A probe is one small function in PROBES: it gets the Context and returns rows (finding, request, what came back,
verdict). Add one by writing a function and listing it. Probes run in the list's order, which matters: the token
endpoint's address limit (finding 4) and the log-in lockouts (2, 3) come last so that they close nothing the
others need. Uses only the standard library, requests and websockets.
"""

import argparse
import bz2
import io
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
from PIL import Image
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect as websocket_connect

REPO = Path(__file__).resolve().parents[1]
BIG_BODY_BYTES = 300 * 2**20


@dataclass
class Row:
    finding: int
    request: str
    got: str
    defended: bool

    @property
    def verdict(self) -> str:
        return "defended" if self.defended else "**not defended**"


@dataclass
class Context:
    url: str
    pid: int | None  # the server's process, for its memory; None when unknown
    username: str
    password: str
    dataset: int | None  # a ready dataset of the user's, for run creation
    staff: tuple[str, str] | None = None  # a staff account for /admin/login/
    token: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].strip("/"))

    @property
    def api(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


# Helpers


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def timed(method: str, url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, url, timeout=60, allow_redirects=False, **kwargs)
    return response, time.monotonic() - started


def answer(response: requests.Response, seconds: float) -> str:
    kind = "JSON" if response.headers.get("Content-Type", "").startswith("application/json") else "HTML/text"
    return f"{response.status_code} {kind}, {seconds * 1000:.0f} ms"


def clear_4xx(response: requests.Response, *, json_body: bool) -> bool:
    is_json = response.headers.get("Content-Type", "").startswith("application/json")
    return 400 <= response.status_code < 500 and (is_json or not json_body)


def csrf_of(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def log_in(session: requests.Session, url: str, username: str, password: str) -> requests.Response:
    """The log-in form (Django's or the admin's); a redirect means it let the user in."""
    token = csrf_of(session, url)
    return session.post(url, data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                        headers={"Referer": url}, allow_redirects=False, timeout=30)


def sign_up(url: str, username: str, password: str) -> None:
    session = requests.Session()
    page = f"{url}/accounts/signup/"
    session.post(page, data={"username": username, "password1": password, "password2": password,
                             "csrfmiddlewaretoken": csrf_of(session, page)}, headers={"Referer": page}, timeout=30)


def huge_post(port: int, *, chunked: bool) -> tuple[int, float]:
    """300 MB of multipart/form-data to /nonexistent/ without a login; the status and seconds until the answer."""
    boundary = "probe"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n').encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    piece = bytes(2**20)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(head) + BIG_BODY_BYTES + len(tail)}"
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall((f"POST /nonexistent/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n"
                            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode())
        try:
            for part in [head, *[piece] * (BIG_BODY_BYTES // len(piece)), tail]:
                if select.select([connection], [], [], 0)[0]:
                    break  # answered before the end
                connection.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n" if chunked else part)
            else:
                connection.sendall(b"0\r\n\r\n" if chunked else b"")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status_line = connection.makefile("rb").readline() or b"HTTP/1.1 000 closed"
    return int(status_line.split()[1]), time.monotonic() - started


# Probes


def setup(ctx: Context) -> list[Row]:
    """The user's page session and API token, which the probes use."""
    log_in(ctx.session, f"{ctx.url}/accounts/login/", ctx.username, ctx.password)
    response = requests.post(f"{ctx.url}/api/auth/token/", json={"username": ctx.username, "password": ctx.password,
                                                                   "name": "security probe"}, timeout=30)
    ctx.token = response.json()["token"]
    return []


def large_body(ctx: Context, *, chunked: bool) -> list[Row]:
    before, samples, gets, result = rss_mb(ctx.pid), [], [], {}

    def attack_once():
        result["status"], result["seconds"] = huge_post(ctx.port, chunked=chunked)

    def sample_memory():
        while attack.is_alive():
            samples.append(rss_mb(ctx.pid))
            time.sleep(0.02)

    attack = threading.Thread(target=attack_once)
    attack.start()
    if before is not None:
        threading.Thread(target=sample_memory, daemon=True).start()
    while attack.is_alive() or len(gets) < 3:
        gets.append(timed("GET", f"{ctx.url}/accounts/login/")[1])
    attack.join()
    peak = max([before, *samples]) if before is not None else None
    grown = f", server +{peak - before:.0f} MB" if before is not None else ""
    # A chunked body is read up to the limit before it is refused, so the GETs beside it depend on the machine.
    defended = (result["status"] == 413 and result["seconds"] < 1 and (chunked or max(gets) < 0.1)
                and (before is None or peak - before < 100))
    framing = "chunked" if chunked else "Content-Length"
    return [Row(1, f"POST /nonexistent/ 300 MB multipart ({framing}), no login, with GETs beside it",
                f"{result['status']} in {result['seconds'] * 1000:.0f} ms{grown}, slowest GET "
                f"{max(gets) * 1000:.0f} ms", defended)]


def large_bodies(ctx: Context) -> list[Row]:
    return large_body(ctx, chunked=False) + large_body(ctx, chunked=True)


def run_inputs(ctx: Context) -> list[Row]:
    rows = []
    for max_params in (10**30, 2**63):
        body = {"dataset": ctx.dataset or 1, "budget_seconds": 60, "max_params": max_params}
        response, seconds = timed("POST", f"{ctx.url}/api/runs/", json=body, headers=ctx.api)
        rows.append(Row(9, f"POST /api/runs/ max_params={max_params}", answer(response, seconds),
                        clear_4xx(response, json_body=True) or response.status_code == 201))
    return rows


def deep_json(ctx: Context) -> list[Row]:
    body = "[" * 50_000 + "]" * 50_000
    rows = []
    for path, headers in (("/api/runs/", ctx.api), ("/api/auth/token/", {})):
        response, seconds = timed("POST", ctx.url + path, data=body,
                                  headers={**headers, "Content-Type": "application/json"})
        who = "token" if headers else "no login"
        rows.append(Row(9, f"POST {path} JSON nested 50,000 deep ({who})", answer(response, seconds),
                        clear_4xx(response, json_body=True)))
    return rows


def odd_query_values(ctx: Context) -> list[Row]:
    rows = []
    for path in ("/runs/compare/?run=%C2%B2", "/activity/?team=%C2%B2", "/runs/compare/?run=" + "9" * 41,
                 "/runs/" + "9" * 41 + "/",
                 "/api/runs/" + "9" * 41 + "/"):
        session = ctx.session if not path.startswith("/api/") else requests
        started = time.monotonic()
        response = session.get(ctx.url + path, headers=ctx.api if path.startswith("/api/") else {}, timeout=30,
                               allow_redirects=False)
        rows.append(Row(9, f"GET {path} (logged in)", answer(response, time.monotonic() - started),
                        response.status_code < 500))
    return rows


def upload_bodies(ctx: Context) -> list[Row]:
    rows = []
    for label, body in (("chunked (no Content-Length)", (piece for piece in [b"x" * 5, b"y" * 5])),
                        ("empty", b"")):
        started = requests.post(f"{ctx.url}/api/datasets/uploads/", json={"name": "probe.zip", "size": 10},
                                headers=ctx.api, timeout=30).json()
        response, seconds = timed("PUT", f"{ctx.url}/api/datasets/{started['id']}/upload/", data=body,
                                  headers={**ctx.api, "Content-Type": "application/octet-stream",
                                           "Content-Range": "bytes 0-9/10"})
        accepted = response.status_code == 200 and response.json().get("received") == 10
        rows.append(Row(9, f"PUT /api/datasets/<id>/upload/ {label}", answer(response, seconds),
                        accepted or clear_4xx(response, json_body=True)))
        requests.delete(f"{ctx.url}/api/datasets/{started['id']}/", headers=ctx.api, timeout=30)
    return rows


def foreign_origin_websocket(ctx: Context) -> list[Row]:
    cookie = f"sessionid={ctx.session.cookies['sessionid']}"
    origin = "http://127.0.0.1:9999" if ctx.port != 9999 else "http://127.0.0.1:9998"
    try:
        with websocket_connect(f"ws://127.0.0.1:{ctx.port}/ws/events/", open_timeout=10,
                               additional_headers={"Cookie": cookie, "Origin": origin}):
            got, defended = "accepted", False
    except InvalidStatus as refused:
        got, defended = f"refused {refused.response.status_code}", True
    except (WebSocketException, OSError) as error:
        got, defended = f"refused ({type(error).__name__})", True
    return [Row(5, f"websocket /ws/events/ with a session cookie, Origin {origin}", got, defended)]


def padded_usernames(ctx: Context) -> list[Row]:
    username, password = f"brute{random.randrange(10**6)}", "probe-password-7-correct"
    sign_up(ctx.url, username, password)
    for _ in range(10):
        log_in(requests.Session(), f"{ctx.url}/accounts/login/", username, "wrong-password")
    let_in = []
    for padded in (f" {username}", f"{username} ", f"\t{username}", username.translate(FULL_WIDTH),
                   f"{username}\xa0"):
        if log_in(requests.Session(), f"{ctx.url}/accounts/login/", padded, password).status_code == 302:
            let_in.append(repr(padded))
    return [Row(2, "login form: 10 wrong passwords, then the right one under 5 padded usernames",
                f"{len(let_in)} of 5 logged in" + (f" ({', '.join(let_in)})" if let_in else ""), not let_in)]


FULL_WIDTH = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ")


def admin_login(ctx: Context) -> list[Row]:
    username = ctx.staff[0] if ctx.staff else ctx.username
    statuses = []
    for _ in range(30):
        response = log_in(requests.Session(), f"{ctx.url}/admin/login/", username, "wrong-password")
        blocked = response.status_code == 429 or "Too many" in response.text
        statuses.append(blocked)
        if blocked:
            break
    note = "" if ctx.staff else " (not staff)"
    got = f"blocked after {len(statuses) - 1} tries" if statuses[-1] else "30 tries, none blocked"
    return [Row(3, f"POST /admin/login/ 30 wrong passwords for {username}{note}", got, statuses[-1])]


def forwarded_for(ctx: Context) -> list[Row]:
    statuses = []
    for _ in range(30):
        address = ".".join(str(random.randrange(1, 255)) for _ in range(4))
        response = requests.post(f"{ctx.url}/api/auth/token/", json={"username": f"nobody{random.randrange(10**9)}",
                                                                       "password": "wrong"},
                                 headers={"X-Forwarded-For": address}, timeout=30)
        statuses.append(response.status_code)
    throttled = statuses.count(429)
    return [Row(4, "POST /api/auth/token/ 30 wrong guesses, each with a random X-Forwarded-For",
                f"{throttled} of 30 answered 429", throttled > 0)]


def forged_upload_credentials(ctx: Context) -> list[Row]:
    """100 MB announced to both upload routes with a forged session cookie or token: refused before reading."""
    started = requests.post(f"{ctx.url}/api/datasets/uploads/", json={"name": "probe.zip", "size": 200_000_000},
                            headers=ctx.api, timeout=30).json()
    rows = []
    for label, headers in (("forged session cookie", {"Cookie": "sessionid=forged"}),
                           ("forged token", {"Authorization": "Token forged"})):
        for method, path in (("PUT", f"/api/datasets/{started['id']}/upload/"), ("POST", "/api/datasets/")):
            with socket.create_connection(("127.0.0.1", ctx.port)) as connection:
                began = time.monotonic()
                lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 100000000",
                         "Content-Type: application/octet-stream", "Content-Range: bytes 0-99999999/200000000",
                         *(f"{key}: {value}" for key, value in headers.items())]
                connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
                status = int(connection.makefile("rb").readline().split()[1])
                seconds = time.monotonic() - began
            rows.append(Row(1, f"{method} {path} announcing 100 MB with a {label}, nothing sent",
                            f"{status} in {seconds * 1000:.0f} ms", status == 413))
    requests.delete(f"{ctx.url}/api/datasets/{started['id']}/", headers=ctx.api, timeout=30)
    return rows


def bzip2_zeros_tar(members: int, member_bytes: int) -> bytes:
    """A .tar.bz2 of `members` files of zeros, as concatenated bzip2 streams (which readers join): 64 MiB of zeros
    compressed once and repeated, so gigabytes take milliseconds."""
    zeros = bz2.compress(bytes(64 * 2**20))
    out = io.BytesIO()
    for number in range(members):
        info = tarfile.TarInfo(f"zeros/{number}.png")
        info.size = member_bytes
        out.write(bz2.compress(info.tobuf(tarfile.USTAR_FORMAT)) + zeros * (member_bytes // (64 * 2**20)))
    out.write(bz2.compress(bytes(1024)))
    return out.getvalue()


def dataset_outcome(ctx: Context, name: str, content: bytes, filename: str) -> tuple[dict, float]:
    """Upload an archive in one request and wait until it is ready or failed; the dataset and the seconds taken."""
    began = time.monotonic()
    dataset = requests.post(f"{ctx.url}/api/datasets/", files={"file": (filename, content)}, data={"name": name},
                            headers=ctx.api, timeout=120).json()
    while dataset.get("status") not in ("ready", "failed") and time.monotonic() - began < 300:
        time.sleep(0.2)
        dataset = requests.get(f"{ctx.url}/api/datasets/{dataset['id']}/", headers=ctx.api, timeout=30).json()
    requests.delete(f"{ctx.url}/api/datasets/{dataset['id']}/", headers=ctx.api, timeout=30)
    return dataset, time.monotonic() - began


def hostile_archives(ctx: Context) -> list[Row]:
    bomb = bzip2_zeros_tar(39, 512 * 2**20)
    dataset, seconds = dataset_outcome(ctx, "probe bomb", bomb, "bomb.tar.bz2")
    rows = [Row(6, f"upload a {len(bomb) / 1024:.0f} KB .tar.bz2 of 39 x 512 MiB of zeros",
                f"{dataset['status']} in {seconds:.1f} s: {dataset.get('error', '')[:70]}",
                dataset["status"] == "failed" and seconds < 5)]
    unreadable = io.BytesIO()
    with zipfile.ZipFile(unreadable, "w") as archive:
        archive.writestr("cat/1.png", "not a picture")
        archive.writestr("dog/1.png", "not one either")
    dataset, seconds = dataset_outcome(ctx, "probe unreadable", unreadable.getvalue(), "unreadable.zip")
    rows.append(Row(8, "upload a zip whose two 'images' are text",
                    f"{dataset['status']} in {seconds:.1f} s: {dataset.get('error', '')[:70]}",
                    dataset["status"] == "failed" and bool(dataset.get("error"))))
    return rows


def run_until_over(ctx: Context, run_id: int, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = requests.get(f"{ctx.url}/api/runs/{run_id}/", headers=ctx.api, timeout=30).json()
        if run["status"] in ("finished", "failed", "cancelled") or time.monotonic() > deadline:
            return run
        time.sleep(1)


def run_start(ctx: Context, budget_seconds: int) -> int:
    return requests.post(f"{ctx.url}/api/runs/", json={"dataset": ctx.dataset, "budget_seconds": budget_seconds},
                         headers=ctx.api, timeout=30).json()["id"]


def two_runs_then_try_it(ctx: Context) -> list[Row]:
    """Two 45 s searches at once (one exports while the other trains), then try-it on the first's model."""
    if ctx.dataset is None:
        return [Row(7, "two runs at once", "no ready dataset to run on", False)]
    first, second = (run_until_over(ctx, run_id) for run_id in [run_start(ctx, 45), run_start(ctx, 45)])
    processes = {trial["worker"] for run in (first, second) for trial in
                 requests.get(f"{ctx.url}/api/runs/{run['id']}/trials/", headers=ctx.api, timeout=30).json()
                 if trial["worker"]}
    rows = [Row(7, "two 45 s runs started at once on the sample (embedded mode)",
                f"{first['status']} and {second['status']}, trained by {len(processes)} processes",
                first["status"] == second["status"] == "finished")]
    corrupt = {"sgi": b"\x01\xda\x01\x01\x00\x03" + bytes(500), "qoi": b"qoif" + bytes(10) + b"junk",
               "ftex": b"FTEX" + bytes(60)}
    for kind, content in corrupt.items():
        response, seconds = timed("POST", f"{ctx.url}/api/runs/{first['id']}/predict/", headers=ctx.api,
                                  files={"image": (f"corrupt.{kind}", content)})
        rows.append(Row(9, f"try-it on a corrupt {kind.upper()} file", answer(response, seconds),
                        clear_4xx(response, json_body=True)))
    picture = io.BytesIO()
    Image.fromarray(np.zeros((9000, 9000), dtype=np.uint16)).save(picture, format="PNG")
    before = rss_mb(ctx.pid)
    response, seconds = timed("POST", f"{ctx.url}/api/runs/{first['id']}/predict/", headers=ctx.api,
                              files={"image": ("huge.png", picture.getvalue())})
    grown = f", server +{rss_mb(ctx.pid) - before:.0f} MB" if before is not None else ""
    rows.append(Row(6, f"try-it on a {len(picture.getvalue()) / 1024:.0f} KB 9000x9000 16-bit PNG",
                    answer(response, seconds) + grown, response.status_code < 500
                    and (before is None or rss_mb(ctx.pid) - before < 100)))
    return rows


def stop_a_run(ctx: Context) -> list[Row]:
    """Stop a 300 s run once a candidate finished: it must end within 10 s, its best model kept."""
    if ctx.dataset is None:
        return []
    run_id = run_start(ctx, 300)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        trials = requests.get(f"{ctx.url}/api/runs/{run_id}/trials/", headers=ctx.api, timeout=30).json()
        if any(trial.get("status") == "complete" for trial in trials):
            break
        time.sleep(1)
    began = time.monotonic()
    requests.post(f"{ctx.url}/api/runs/{run_id}/cancel/", headers=ctx.api, timeout=30)
    run = run_until_over(ctx, run_id, timeout=120)
    seconds = time.monotonic() - began
    return [Row(13, "Stop a running search once a candidate finished",
                f"{run['status']} {seconds:.1f} s after the stop: {run.get('error', '')[:60]}",
                run["status"] == "cancelled" and seconds < 10)]


PROBES = [large_bodies, forged_upload_credentials, run_inputs, deep_json, odd_query_values, upload_bodies,
          foreign_origin_websocket, hostile_archives, two_runs_then_try_it, stop_a_run, padded_usernames,
          admin_login, forwarded_for]


# Running


def markdown_table(rows: list[Row]) -> str:
    lines = ["| finding | request | what came back | verdict |", "| --- | --- | --- | --- |"]
    for row in sorted(rows, key=lambda row: row.finding):
        lines.append(f"| {row.finding} | {row.request} | {row.got} | {row.verdict} |")
    return "\n".join(lines)


def run_probes(ctx: Context) -> list[Row]:
    if not ctx.token:
        setup(ctx)
    rows = []
    for probe in PROBES:
        try:
            rows += probe(ctx)
        except Exception as error:  # a probe that cannot run says so in the table and the others go on
            rows.append(Row(0, probe.__name__, f"probe failed: {type(error).__name__}: {error}", False))
    return rows


def manage(env: dict[str, str], code: str) -> str:
    return subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True).stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_own_server() -> list[Row]:
    """`manage.py up` in embedded mode on a fresh data folder, a staff user and a ready dataset, then the probes."""
    data_dir = Path(tempfile.mkdtemp(prefix="nasweb-probe-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(NASWEB_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="nasweb.settings.base")
    port, log = free_port(), data_dir / "up.log"
    with open(log, "w") as log_file:
        server = subprocess.Popen([sys.executable, "manage.py", "up", "--port", str(port)], cwd=REPO, env=env,
                                  stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while "Press Ctrl+C" not in log.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"manage.py up did not start:\n{log.read_text()}")
            time.sleep(0.5)
        banner = log.read_text()
        password = re.search(r"Log in as demo / (\S+)", banner).group(1)
        sample = re.search(r"Sample dataset to try: (\S+)", banner).group(1)
        manage(env, "from django.contrib.auth import get_user_model; "
                    "get_user_model().objects.create_superuser('staff1', password='probe-staff-password-7')")
        ctx = Context(url=f"http://127.0.0.1:{port}", pid=server.pid, username="demo", password=password,
                      dataset=None, staff=("staff1", "probe-staff-password-7"))
        setup(ctx)
        ctx.dataset = ready_dataset(ctx, Path(sample))
        return run_probes(ctx)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def ready_dataset(ctx: Context, archive: Path) -> int | None:
    """Uploads the sample archive as the user and waits for it to be ready, for the run probes."""
    headers = ctx.api
    with open(archive, "rb") as file:
        dataset = requests.post(f"{ctx.url}/api/datasets/", files={"file": file}, data={"name": "probe digits"},
                                headers=headers, timeout=120).json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = requests.get(f"{ctx.url}/api/datasets/{dataset['id']}/", headers=headers, timeout=30).json()["status"]
        if status == "ready":
            return dataset["id"]
        if status == "failed":
            return None
        time.sleep(1)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running NASweb; without it the probe starts its own")
    parser.add_argument("--pid", type=int, help="the server's process id, to measure its memory")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password")
    parser.add_argument("--dataset", type=int, help="a ready dataset of that user's, for the run probes")
    parser.add_argument("--staff", nargs=2, metavar=("USERNAME", "PASSWORD"), help="a staff account")
    args = parser.parse_args()
    if args.url:
        rows = run_probes(Context(url=args.url.rstrip("/"), pid=args.pid, username=args.username,
                                  password=args.password, dataset=args.dataset,
                                  staff=tuple(args.staff) if args.staff else None))
    else:
        rows = with_own_server()
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
