"""Upload a dataset, search for a model, wait for it and download the bundle, with nothing but `requests`.

    export NASWEB_URL=http://127.0.0.1:8000 NASWEB_TOKEN=nw_...   # a token from the "API tokens" page
    python quickstart.py my-images.zip bundle.zip

The archive holds one folder of images per class (or images and a labels.csv). One POST suits archives up to a
few hundred megabytes; larger ones go up in resumable chunks (POST /api/datasets/uploads/, see docs/api.md).
"""

import os
import sys
import time

import requests

BUDGET_SECONDS = 30
POLL_SECONDS = 2


def main(archive: str, bundle: str) -> None:
    api = os.environ.get("NASWEB_URL", "http://127.0.0.1:8000").rstrip("/") + "/api"
    session = requests.Session()
    session.headers["Authorization"] = f"Token {os.environ['NASWEB_TOKEN']}"

    with open(archive, "rb") as file:
        dataset = checked(session.post(f"{api}/datasets/", files={"file": file},
                                       data={"name": os.path.basename(archive)}))
    dataset = wait(session, f"{api}/datasets/{dataset['id']}/", until={"ready", "failed"})
    if dataset["status"] != "ready":
        sys.exit(f"The dataset cannot be used: {dataset['error']}")
    print(f"Dataset {dataset['id']}: {dataset['num_images']} images of {len(dataset['classes'])} classes")

    run = checked(session.post(f"{api}/runs/", json={"dataset": dataset["id"], "budget_seconds": BUDGET_SECONDS}))
    print(f"Run {run['id']} launched: {BUDGET_SECONDS} s to search")
    run = wait(session, f"{api}/runs/{run['id']}/", until={"finished", "failed", "cancelled"})
    if "bundle" not in run["artifacts"]:
        sys.exit(f"The search ended {run['status']} without a model: {run['error']}")
    print(f"Best model: right on {run['best']['test_accuracy']:.1%} of the test images")

    with session.get(f"{api}/runs/{run['id']}/artifacts/bundle/", stream=True) as download:
        download.raise_for_status()
        with open(bundle, "wb") as out:
            for chunk in download.iter_content(chunk_size=1 << 20):
                out.write(chunk)
    print(f"Saved {bundle}: unzip it, then `python predict.py photo.jpg`")


def checked(response: requests.Response) -> dict:
    """The JSON of a successful response; otherwise stop with the API's message, which says what went wrong."""
    if not response.ok:
        sys.exit(f"{response.request.method} {response.url}: {response.status_code} {response.text}")
    return response.json()


def wait(session: requests.Session, url: str, until: set[str]) -> dict:
    """Poll a dataset or run until its status is one of `until` (a script may also follow /ws/events/)."""
    while True:
        state = checked(session.get(url))
        if state["status"] in until:
            return state
        progress = f" {state['progress']:.0%}" if "progress" in state else ""
        print(f"  {state['status']}{progress}", flush=True)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
