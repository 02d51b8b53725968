"""No SSRF through provider-supplied URLs: which download URLs the bot may fetch, and a transport
that connects only to the address it checked.

A provider answer is untrusted, and so is every URL in it (`video_url`, `meta_data.url`,
`unsigned_urls`, `urls`, a redirect's `Location`). The rule:

- a URL on a *trusted origin* (SORA_BASE_URL's own scheme + host + port, plus any SORA_TRUSTED_ORIGINS
  the operator lists) is fetched as is: the operator chose those hosts;
- any other URL must be `https`, and its host is resolved and refused when any address it resolves
  to is loopback, private, link-local, multicast, reserved, unspecified or otherwise not global;
- the connection is made to the address that was checked (`GuardedNetworkBackend` resolves inside
  httpcore's `connect_tcp` and connects to that IP; TLS still verifies the certificate against the
  host name), so a DNS answer that changes between the check and the connect (rebinding) cannot
  switch it. Every redirect hop is a new URL and a new connection: both checks run again.

Usage (the provider client does this for every dialect's downloads)::

    guard = DownloadGuard([base_url, *settings.sora_trusted_origins])
    client = guarded_client(guard, timeout=httpx.Timeout(30))
    guard.check_url(url)            # raises RefusedURL: scheme, or a literal private IP
    response = await client.send(client.build_request("GET", url), stream=True)

Refusals are `RefusedURL` (a `DownloadFailed`) whose member-facing words never quote the URL or
anything the host said.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from bot.i18n import tr
from bot.sora.errors import DownloadFailed, Words

log = logging.getLogger(__name__)

# host, port → the IP addresses it resolves to (injectable: tests resolve names without DNS).
Resolver = Callable[[str, int], Awaitable[list[str]]]

REFUSED_WORDS = tr("error.download_refused", "en")  # the English words; readers get their own (below)


class RefusedURL(DownloadFailed):
    """A provider-supplied URL the bot will not fetch (not https, or an internal address)."""

    user_message = Words("error.download_refused")


def _port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def origin_of(url: str | httpx.URL) -> tuple[str, str, int | None]:
    parsed = httpx.URL(str(url))
    return parsed.scheme, (parsed.host or "").lower(), _port(parsed)


def is_public_address(address: str) -> bool:
    """True only for a globally routable unicast address (IPv4-mapped IPv6 judged as its IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or not ip.is_global)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class DownloadGuard:
    """Decides which URLs may be fetched and which addresses may be connected to."""

    def __init__(self, trusted_origins: Iterable[str | httpx.URL], *, resolver: Resolver | None = None) -> None:
        self._trusted = frozenset(origin_of(o) for o in trusted_origins if str(o).strip())
        self._trusted_hosts = frozenset((host, port) for _, host, port in self._trusted)
        self._resolver = resolver or system_resolver

    def is_trusted(self, url: str | httpx.URL) -> bool:
        return origin_of(url) in self._trusted

    def check_url(self, url: str | httpx.URL) -> None:
        """Refuse before sending: not on a trusted origin and not https, or a literal internal IP."""
        if self.is_trusted(url):
            return
        parsed = httpx.URL(str(url))
        if parsed.scheme != "https" or not parsed.host:
            raise RefusedURL(f"refused a {parsed.scheme or 'schemeless'} download URL on {parsed.host or '?'}")
        literal = _literal_ip(parsed.host)
        if literal is not None and not is_public_address(literal):
            raise RefusedURL(f"refused a download URL on the internal address {literal}")

    async def addresses_for(self, host: str, port: int) -> list[str]:
        """The addresses a connection to host:port may use: the host itself on a trusted origin, else
        its resolved addresses, all of them public (one internal answer refuses the host)."""
        host = host.lower()
        if (host, port) in self._trusted_hosts:
            return [host]
        literal = _literal_ip(host)
        try:
            addresses = [literal] if literal else await self._resolver(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {type(exc).__name__}") from exc
        bad = [a for a in addresses if not is_public_address(a)]
        if bad or not addresses:
            log.warning("download host %s refused: it resolves to %s", host, ", ".join(bad) or "nothing")
            raise RefusedURL(f"refused the download host {host}: it resolves to an internal address")
        return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, but `connect_tcp` connects only to addresses the guard approved."""

    def __init__(self, guard: DownloadGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore API)
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.addresses_for(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for downloads")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(guard: DownloadGuard, *, limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through `GuardedNetworkBackend` (no proxy: a proxy
    would make the connection for us, to an address we did not check)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False, limits=limits or httpx.Limits(max_connections=20))
    # httpx takes no network backend; its httpcore pool does (httpcore's documented extension point).
    transport._pool._network_backend = GuardedNetworkBackend(guard)
    return transport


def guarded_client(guard: DownloadGuard, *, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for provider-supplied URLs: guarded connections, no redirects followed
    by itself (the caller follows them hop by hop and calls `guard.check_url` on each)."""
    return httpx.AsyncClient(transport=guarded_transport(guard), timeout=timeout, follow_redirects=False,
                             trust_env=False)
