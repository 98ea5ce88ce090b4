"""The most bytes one HTTP request may send, enforced while the server reads them.

Django's ASGI handler copies a whole body into a temporary file before any view runs, so a limit in a view or in
DRF comes after the bytes are already on disk. This wrapper around the HTTP application refuses a body whose
Content-Length is over the limit before reading any of it, and counts the bytes of a body sent without one
(chunked), stopping at the first message past the limit. Either way the client gets a 413 in the API's JSON shape.

Only the dataset uploads (the resumable chunk PUT and the one-request multipart POST) may carry more than
NASWEB_MAX_REQUEST_BYTES, and only when their credentials resolve to an active user (a forged cookie or token must
not make the server spool gigabytes to disk before the view refuses it): up to NASWEB_MAX_UPLOAD_BYTES, and for a
chunk no more than its upload still lacks, to an upload the user may write to. Anyone else, on any other URL, gets
NASWEB_MAX_REQUEST_BYTES.
"""

import json
import re

from channels.db import database_sync_to_async
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from apps.accounts.credentials import scope_user
from apps.datasets.selectors import dataset_upload_room

UPLOAD_ROUTES = [("PUT", re.compile(r"/api/datasets/(?P<dataset_id>\d+)/upload/")),
                 ("POST", re.compile(r"/api/datasets/"))]


async def request_body_limit(scope: dict, declared: int | None) -> int:
    """Bytes this request may send, given the Content-Length it declares (None for a chunked body)."""
    limit = settings.NASWEB_MAX_REQUEST_BYTES
    if declared is not None and declared <= limit:
        return limit  # small enough for anyone: no credentials to look up
    for method, route in UPLOAD_ROUTES:
        if scope["method"] == method and (upload := route.fullmatch(scope["path"])):
            return max(limit, await upload_allowance(scope, upload.groupdict().get("dataset_id")))
    return limit


@database_sync_to_async
def upload_allowance(scope: dict, dataset_id: str | None) -> int:
    """Bytes the request's credentials may upload: 0 unless they resolve to an active user (who may write to the
    upload, for a chunk)."""
    user = scope_user(scope)
    if user is None:
        return 0
    if dataset_id is None:
        return settings.NASWEB_MAX_UPLOAD_BYTES
    return min(settings.NASWEB_MAX_UPLOAD_BYTES, dataset_upload_room(user=user, dataset_id=int(dataset_id)))


def declared_length(scope: dict) -> int | None:
    """The Content-Length header, or None when the body is chunked (or the header is not a number)."""
    value = dict(scope["headers"]).get(b"content-length", b"")
    return int(value) if value.isdigit() else None


async def refuse(send, limit: int) -> None:
    body = json.dumps({"detail": f"This request is larger than the {filesizeformat(limit)} this server accepts "
                                 "for it."})
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        # The rest of the body is not wanted: close rather than read it to reach the next request.
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body.encode()})


class RequestBodyLimit:
    """ASGI middleware for the HTTP application (see the module's docstring)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        declared = declared_length(scope)
        limit = await request_body_limit(scope, declared)
        if declared is not None and declared > limit:
            await refuse(send, limit)
            return

        received, over_limit, response_started = 0, False, False

        async def counting_receive():
            nonlocal received, over_limit
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django takes a disconnect as the client going away: it drops the body and answers nothing.
                    over_limit = True
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message):
            nonlocal response_started
            if over_limit and not response_started:
                return  # the 413 below answers instead
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, watching_send)
        if over_limit and not response_started:
            await refuse(send, limit)
