"""A 300 MB body cannot sink the server: `manage.py up` refuses it while reading, and keeps answering others.

Daphne's Twisted parsed such a multipart body in memory first: the process grew by 3.5 GB and other requests
waited 8-12 s. The acceptance (issue 29): the server's memory grows by under 100 MB, the body is refused within 1 s,
and a concurrent GET stays under 100 ms: benchmarks/security_probe.py measures that (docs/security.md); this test
holds the GETs to the refusal's 1 s, which a busy CI host keeps.
"""

import select
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BODY_BYTES = 300 * 2**20
PIECE = bytes(2**20)
BOUNDARY = "nasweb-probe"


def multipart_pieces():
    """A 300 MB multipart/form-data body, made as it is sent."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    for _ in range(BODY_BYTES // len(PIECE)):
        yield PIECE
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def post_until_answered(port: int, *, chunked: bool) -> tuple[int, float]:
    """POST the body to a URL that does not exist, without logging in, reading the answer as soon as one comes."""
    length = sum(len(piece) for piece in multipart_pieces())
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}"
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall((f"POST /nonexistent/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{framing}\r\n"
                            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n").encode())
        try:
            for piece in multipart_pieces():
                if select.select([connection], [], [], 0)[0]:
                    break  # answered already
                connection.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            else:
                connection.sendall(b"0\r\n\r\n" if chunked else b"")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading, as it should; its answer is waiting
        status_line = connection.makefile("rb").readline()
    return int(status_line.split()[1]), time.monotonic() - started


def memory_kib(pid: int, field: str) -> int:
    """VmRSS (resident now) or VmHWM (the peak so far) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def timed_get(url: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return time.monotonic() - started


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_body_is_refused_at_once_without_growing_the_server(app_server, chunked):
    port, pid = int(app_server["url"].rsplit(":", 1)[1]), app_server["pid"]
    login_page = app_server["url"] + "/accounts/login/"
    for _ in range(3):
        timed_get(login_page)  # first requests fill caches; they are not what is measured
    resident_before, peak_before = memory_kib(pid, "VmRSS"), memory_kib(pid, "VmHWM")
    samples, answer = [], {}

    def attack():
        answer["status"], answer["seconds"] = post_until_answered(port, chunked=chunked)

    attacker = threading.Thread(target=attack)
    attacker.start()
    get_seconds = []
    while attacker.is_alive() or len(get_seconds) < 3:
        samples.append(memory_kib(pid, "VmRSS"))
        get_seconds.append(timed_get(login_page))
    attacker.join()
    samples.append(memory_kib(pid, "VmRSS"))

    assert answer["status"] == 413
    assert answer["seconds"] < 1, answer
    # Other people's pages keep coming while the body is refused: a server that read it first would answer them
    # only after seconds. How fast they come (milliseconds on a quiet machine) is benchmarks/security_probe.py's to
    # measure: a 2-core CI host once paused one GET for 0.58 s.
    assert max(get_seconds) < 1, get_seconds
    grown_mb = (max(max(samples) - resident_before, memory_kib(pid, "VmHWM") - peak_before)) / 1024
    assert grown_mb < 100, f"the server grew by {grown_mb:.0f} MB"
