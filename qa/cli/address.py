"""Addresses for ``qa serve``: which hosts are this machine's alone, and whether one can be bound."""

from __future__ import annotations

import errno
import ipaddress
import socket

from ..errors import QAError

#: Hosts that only this machine can reach.
_LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_address(host: str, port: int) -> None:
    """Refuse, in one line, an address ``qa serve`` cannot bind: a port in use, a host that is not this machine's.

    Raises:
        QAError: The address cannot be bound; the message says why and what to do.

    """
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise QAError(f"cannot serve on {host}: not a host name or address here ({exc})") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As a server binds it: an address in TIME_WAIT from a last run is free to take.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise QAError(f"port {port} is in use: choose another with --port") from exc
            if exc.errno == errno.EADDRNOTAVAIL:
                raise QAError(f"{host} is not an address of this machine: choose another with --host") from exc
            raise QAError(f"cannot serve on {host}:{port} ({exc.strerror or exc})") from exc
