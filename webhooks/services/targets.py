"""Where a webhook may connect. Its URL is chosen by a project admin, not a system administrator,
so it may not reach the registry's own host (loopback: its ports, and whatever else listens there)
nor link-local addresses (a cloud's metadata service, 169.254.169.254), unless
REGISTRY_WEBHOOK_ALLOWED_NETWORKS allows them. Other private networks stay open: that is where
CI servers and chat bridges live.

A URL is checked when it is saved (an address, or `localhost`) and again on every attempt, at each
address its name resolves to; the attempt then connects to the very address checked, so a name
that resolves elsewhere a moment later (DNS rebinding) gains nothing.
"""

import ipaddress
import socket

from django.conf import settings

# Metadata services outside the link-local ranges: AWS's over IPv6 and Alibaba Cloud's.
METADATA_NETWORKS = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The target is an address webhooks may not reach."""


def _refusal(host: str, address: Address) -> str:
    return (
        f"{host} is {address}, an address of the registry's own host, a link-local or a metadata one:"
        " webhooks may not reach it unless REGISTRY_WEBHOOK_ALLOWED_NETWORKS allows it."
    )


def forbidden(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(
        address in ipaddress.ip_network(network, strict=False) for network in settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS
    ):
        return False
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or any(address in network for network in METADATA_NETWORKS)
    )


def check_saved_host(host: str) -> None:
    """Refuse an address or `localhost` in a URL being saved. Names are not resolved here: the
    attempt checks what they resolve to then."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        address: Address = ipaddress.ip_address("127.0.0.1")
    else:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return
    if forbidden(address):
        raise Refused(_refusal(host, address))


def resolve(host: str, port: int) -> str:
    """The address to connect to for `host`. Raises Refused when any of its addresses is
    forbidden (a name pointing at both a LAN host and loopback is refused), OSError when it does
    not resolve."""
    addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    for address in addresses:
        if forbidden(ipaddress.ip_address(address)):
            raise Refused(_refusal(host, ipaddress.ip_address(address)))
    return addresses[0]
