"""docker/compose.yml, checked with the compose command itself (no Docker engine needed for `config`)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker" / "compose.yml"
SECRETS = {"DJANGO_SECRET_KEY": "k" * 50, "DJANGO_ALLOWED_HOSTS": "nasweb.example.org", "MINIO_ROOT_PASSWORD": "pw"}


def compose_command() -> list[str] | None:
    """Docker's compose plugin, or the standalone docker-compose (Debian's; scripts/test.sh installs it)."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


pytestmark = pytest.mark.skipif(compose_command() is None, reason="needs docker compose (scripts/test.sh installs it)")


def compose_config(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*compose_command(), "-f", str(COMPOSE_FILE), "config"], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], **env})


def test_the_compose_file_runs_gpu_workers_beside_the_web_process_a_database_a_broker_and_an_object_store():
    config = compose_config(**SECRETS, NASWEB_WORKERS="4")
    assert config.returncode == 0, config.stderr
    services = yaml.safe_load(config.stdout)["services"]

    assert {"web", "worker", "db", "redis", "minio"} <= set(services)
    worker = services["worker"]
    [gpus] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert gpus["driver"] == "nvidia" and gpus["capabilities"] == ["gpu"]
    assert "rundramatiq" in str(worker["command"]) and worker["environment"]["NASWEB_DEVICE"] == "cuda"
    for name in ("web", "worker"):
        environment = services[name]["environment"]
        assert str(environment["NASWEB_WORKERS"]) == "4"
        assert environment["NASWEB_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert environment["DATABASE_URL"].startswith("postgres://") and environment["REDIS_URL"].startswith("redis://")
    # Workers share the search checkpoints, so that a run's slots and a resumed run see the same folder.
    assert any(str(volume).startswith("runs:/runs") or (isinstance(volume, dict) and volume.get("target") == "/runs")
               for volume in worker["volumes"])


def test_a_missing_secret_stops_compose_with_its_name():
    config = compose_config(**{key: value for key, value in SECRETS.items() if key != "MINIO_ROOT_PASSWORD"})

    assert config.returncode != 0 and "MINIO_ROOT_PASSWORD" in config.stderr
