import os
import re
import secrets
import time
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import sync_playwright

from .processes import REPO, free_port, running, server_env, wait_for_port

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: `apt-get install chromium` (scripts/test.sh does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: console.append(f"ws< {frame}")))
    yield page
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print("browser console and websocket frames:", *console[-50:], sep="\n  ")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def mode() -> str:
    """The configuration the suite runs in: `services` with PostgreSQL and Redis, else `embedded`."""
    return "services" if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL") else "embedded"


def screenshot(page, name: str) -> None:
    """Keep a full-page picture for people to review (test-artifacts/screenshots/<mode>/<name>.png)."""
    folder = SCREENSHOTS / mode()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def fresh_postgres_database():
    """A new, empty database on the DATABASE_URL server, dropped afterwards: `up` migrates it like a new install."""
    server_url = re.sub(r"/[^/]*$", "/postgres", os.environ["DATABASE_URL"])
    name = f"nasweb_e2e_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield re.sub(r"/[^/]*$", f"/{name}", os.environ["DATABASE_URL"])
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_server(tmp_path):
    """`manage.py up` in the suite's configuration, on a fresh data folder: the README's start command."""
    env = server_env(DJANGO_SETTINGS_MODULE="nasweb.settings.base", NASWEB_DATA_DIR=str(tmp_path / "data"))
    databases = fresh_postgres_database() if mode() == "services" else iter([None])
    database_url = next(databases)
    command = ["manage.py", "up", "--port", str(port := free_port())]
    if database_url:
        env.update(DATABASE_URL=database_url, REDIS_URL=os.environ["REDIS_URL"])
        command += ["--worker-processes", "2"]
    log = tmp_path / "up.log"
    try:
        with running(command, env, log) as process:
            wait_for_port(port, process, timeout=180)
            banner = log.read_text()
            demo_password = re.search(r"Log in as demo / (\S+)", banner).group(1)
            yield {"url": f"http://127.0.0.1:{port}", "pid": process.pid, "demo_password": demo_password, "log": log,
                   "data_dir": tmp_path / "data", "env": env}
    finally:
        next(databases, None)


def wait_for_text(locator, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in locator.inner_text():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not shown; page says {locator.inner_text()!r}")
        time.sleep(0.2)
