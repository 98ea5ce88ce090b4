import subprocess
import sys
import zipfile

import pytest
import requests

from .processes import REPO

EXAMPLE = REPO / "docs" / "examples" / "quickstart.py"


def test_the_api_docs_show_the_example_as_it_is_tested():
    assert EXAMPLE.read_text() in (REPO / "docs" / "api.md").read_text()


@pytest.mark.e2e
def test_the_docs_api_example_trains_and_downloads_a_model(app_server, tmp_path):
    url = app_server["url"]
    token = requests.post(f"{url}/api/auth/token/", data={"username": "demo", "password": app_server["demo_password"],
                                                           "name": "docs example"}, timeout=30).json()["token"]
    bundle = tmp_path / "bundle.zip"

    example = subprocess.run(
        [sys.executable, str(EXAMPLE), str(app_server["data_dir"] / "samples" / "digits.zip"), str(bundle)],
        env={"NASWEB_URL": url, "NASWEB_TOKEN": token, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=400)

    assert example.returncode == 0, example.stdout + example.stderr
    assert "Best model: right on" in example.stdout
    with zipfile.ZipFile(bundle) as archive:
        assert {"predict.py", "model.onnx"} <= set(archive.namelist())
