import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/accounts/signup/", "/api/docs/"])
def test_every_page_carries_a_content_security_policy(client, url):
    response = client.get(url)

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert not re.search(rb"<script(?![^>]*\bsrc=)[^>]*>", response.content), "inline scripts would be blocked"


def test_pages_of_a_logged_in_user_have_no_inline_script(client, alice):
    client.force_login(alice)

    for url in ["/", "/datasets/", "/datasets/new/", "/runs/", "/runs/new/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert not re.search(rb"<script(?![^>]*\bsrc=)[^>]*>", response.content), url


def test_no_template_has_an_inline_event_handler():
    # The policy blocks onclick="..." and friends as it blocks inline scripts: the control would silently not work.
    handlers = [f"{path}: {match.group(0)}" for path in Path("templates").rglob("*.html")
                for match in re.finditer(r"\son[a-z]+\s*=", path.read_text())]

    assert not handlers
