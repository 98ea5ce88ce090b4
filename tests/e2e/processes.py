"""Start the real servers and workers as child processes, the way people and CI run them."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def server_env(**overrides: str) -> dict[str, str]:
    """The environment of a child process: this one's, minus the service URLs unless given again."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "NASWEB_DATA_DIR")}
    env.update(PYTHONUNBUFFERED="1", **overrides)
    return env


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path):
    """Run a child process (in its own process group, so its workers stop with it) for the duration of a block."""
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, *command], cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, 15)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
                    process.wait()
