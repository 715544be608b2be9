"""Refuse network traffic from inside the appliance process.

Installed by the CLI before any command runs (and by training workers): outgoing connections are allowed
only to loopback addresses and UNIX sockets (DeepSpeed's gloo rendezvous), and name resolution only for
IP literals, ``localhost`` and this host's own name.  Anything else raises :class:`NetworkRefused`, so a
library that tries to phone home (tldextract, a hub download, telemetry) fails loudly instead of leaking.
"""

from __future__ import annotations

import ipaddress
import socket

_installed = False


class NetworkRefused(ConnectionRefusedError):
    pass


def _is_loopback(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    if host in ("localhost", "", socket.gethostname()):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_literal_or_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    if host in ("localhost", "", socket.gethostname()):
        return True
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return host.endswith(".localhost")


def install() -> None:
    """Patch the socket module in this process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    orig_connect = socket.socket.connect
    orig_connect_ex = socket.socket.connect_ex
    orig_getaddrinfo = socket.getaddrinfo

    def _check(sock: socket.socket, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not _is_loopback(host):
                raise NetworkRefused(f"appliance: network access to {host!r} refused (air-gapped host)")

    def connect(self, address):
        _check(self, address)
        return orig_connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return orig_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_literal_or_local(host):
            raise NetworkRefused(f"appliance: name resolution of {host!r} refused (air-gapped host)")
        return orig_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
