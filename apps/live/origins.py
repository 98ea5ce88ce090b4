"""Which pages may open a websocket: websockets skip Django's CSRF check, and a browser sends the session cookie
with a socket that any site opens, so only this site's own pages (same scheme, host and port as the request's
Host), and the origins CSRF_TRUSTED_ORIGINS names, are let in. Channels' AllowedHostsOriginValidator matched hosts
without the port: another site on the same host passed.
"""

from urllib.parse import SplitResult, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_parse(url: str) -> SplitResult | None:
    """An http(s) origin with a host and a valid port, or None."""
    try:
        parts = urlsplit(url.lower())
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return None
    return parts if parts.scheme in DEFAULT_PORTS and parts.hostname else None


def same_origin(a: SplitResult, b: SplitResult) -> bool:
    def scheme_host_port(origin: SplitResult) -> tuple[str, str, int]:
        return origin.scheme, origin.hostname, origin.port or DEFAULT_PORTS[origin.scheme]

    return scheme_host_port(a) == scheme_host_port(b)


def is_secure(scope: dict, headers: dict[str, str]) -> bool:
    """wss, or a proxy that terminated TLS says so in the header Django trusts for HTTP (SECURE_PROXY_SSL_HEADER)."""
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy_header:
        return False
    name, secure_value = proxy_header
    value = headers.get(name.removeprefix("HTTP_").replace("_", "-").lower(), "")
    return value.split(",")[0].strip() == secure_value


def site_origin(scope: dict, headers: dict[str, str]) -> SplitResult | None:
    """The origin of this site's pages, as the request's Host header names it; None for a host not allowed."""
    host = headers.get("host", "")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return origin_parse(f"{'https' if is_secure(scope, headers) else 'http'}://{host}")


def trusted_origin(origin: SplitResult) -> bool:
    """An origin CSRF_TRUSTED_ORIGINS names, exactly or as `scheme://*.domain`, as Django's CSRF check reads it."""
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        trusted = urlsplit(entry.lower())
        if "*" in trusted.netloc:
            if trusted.scheme == origin.scheme and is_same_domain(origin.netloc, trusted.netloc.replace("*", "", 1)):
                return True
        elif (parsed := origin_parse(entry)) and same_origin(origin, parsed):
            return True
    return False


def origin_allowed(scope: dict) -> bool:
    headers = {name.decode("latin1").lower(): value.decode("latin1") for name, value in scope.get("headers", [])}
    origin = origin_parse(headers.get("origin", ""))
    if origin is None:  # no Origin: not a browser page of this site
        return False
    site = site_origin(scope, headers)
    return (site is not None and same_origin(origin, site)) or trusted_origin(origin)


class SameOriginValidator:
    """ASGI middleware: refuses a websocket whose Origin is not this site's own, nor a trusted one."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
