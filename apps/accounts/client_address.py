"""The address a request comes from, as far as it can be trusted: what throttles and lock-outs count by.

`X-Forwarded-For` is whatever the client sends unless a proxy named in NASWEB_TRUSTED_PROXIES set it, so it is read
only when the connection comes from such a proxy, and then from the right: each trusted proxy appends the address
it saw, and the right-most entry that is not a trusted proxy is the client's.
"""

from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from django.conf import settings


@cache
def trusted_networks(names: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(name, strict=False) for name in names)


def is_trusted_proxy(address: str) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted_networks(tuple(settings.NASWEB_TRUSTED_PROXIES)))


def client_address(request) -> str:
    """The client's IP address: the connection's, or the one a trusted proxy in front of it forwarded."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not is_trusted_proxy(remote):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted_proxy(hop):
            return hop
    return hops[0] if hops else remote
