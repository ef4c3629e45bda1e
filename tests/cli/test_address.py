"""Addresses for ``qa serve`` (qa.cli.address): loopback hosts, and refusing a busy port or a foreign host."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import pytest

from qa.cli.address import check_address, is_loopback
from qa.errors import QAError


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port of 127.0.0.1 that a listening socket holds for the test."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "host", ["localhost", "LocalHost", "127.0.0.1", "127.0.1.1", "127.255.255.254", "::1", "[::1]", "0:0:0:0:0:0:0:1"]
)
def test_hosts_only_this_machine_reaches_are_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "", "192.168.1.10", "10.0.0.1", "128.0.0.1", "example.com", "localhost.example.com", "::2"],
)
def test_other_hosts_are_not_loopback(host: str) -> None:
    # 0.0.0.0 and :: are every interface, reachable from other machines.
    assert not is_loopback(host)


def test_a_free_port_on_loopback_passes_and_stays_free() -> None:
    port = free_port()
    check_address("127.0.0.1", port)
    # The probe let the port go again: the server can take it.
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))


def test_the_empty_host_means_every_interface_and_passes() -> None:
    check_address("", free_port())


def test_a_port_in_use_is_refused_naming_the_port(busy_port: int) -> None:
    with pytest.raises(QAError) as caught:
        check_address("127.0.0.1", busy_port)
    assert str(caught.value) == f"port {busy_port} is in use: choose another with --port"
    assert isinstance(caught.value.__cause__, OSError) and caught.value.__cause__.errno == errno.EADDRINUSE


def test_a_port_in_use_is_refused_by_host_name_too(busy_port: int) -> None:
    with pytest.raises(QAError, match=rf"^port {busy_port} is in use"):
        check_address("localhost", busy_port)


def test_a_host_that_is_not_this_machines_is_refused() -> None:
    # 192.0.2.0/24 is reserved for documentation: never an address of this machine.
    with pytest.raises(QAError, match=r"^192\.0\.2\.7 is not an address of this machine: choose another with --host$"):
        check_address("192.0.2.7", free_port())


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".example"])
def test_a_host_name_that_cannot_be_written_is_refused(host: str) -> None:
    # Labels that are empty or over 63 characters fail before any lookup.
    with pytest.raises(QAError, match=r"^cannot serve on .*: not a host name or address here \(") as caught:
        check_address(host, free_port())
    assert isinstance(caught.value.__cause__, UnicodeError)


def test_a_host_name_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    with pytest.raises(QAError) as caught:
        check_address("nowhere.invalid", 8000)
    assert str(caught.value).startswith("cannot serve on nowhere.invalid: not a host name or address here (")
    assert "Name or service not known" in str(caught.value)


def test_another_bind_failure_is_refused_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: socket.socket, address: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", denied)
    with pytest.raises(QAError) as caught:
        check_address("127.0.0.1", 80)
    assert str(caught.value) == "cannot serve on 127.0.0.1:80 (Permission denied)"


def test_every_refusal_is_one_line(busy_port: int) -> None:
    for host, port in (("127.0.0.1", busy_port), ("192.0.2.7", free_port()), ("a..b", free_port())):
        with pytest.raises(QAError) as caught:
            check_address(host, port)
        assert "\n" not in str(caught.value)
