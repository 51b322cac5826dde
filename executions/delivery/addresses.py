"""Where a webhook may go: strict URL parsing and the check of every address we would connect to.

Three layers (see docs/webhooks.md, "Where webhooks may go"):
1. ``parse_webhook_url`` refuses anything but plain http(s) URLs with a hostname or a canonical IP literal;
2. ``url_refusal_at_save`` refuses IP literals and local names outside the policy when an endpoint is saved;
3. ``resolve_destination`` resolves the name at send time and refuses the request unless *every* address is
   allowed; the HTTP client then connects to one of those checked addresses, never to the name again.

Pure module: no ORM. The policy flag is passed in by the caller.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

# Never reachable, whatever the settings say: instance metadata services hand out cloud credentials.
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2/32",  # AWS ECS task metadata
        "169.254.170.23/32",  # AWS EKS pod identity
        "100.100.100.200/32",  # Alibaba Cloud
        "fd00:ec2::254/128",  # AWS over IPv6
        "fd00:ec2::23/128",  # AWS EKS pod identity over IPv6
    )
)
METADATA_HOSTNAMES = frozenset({"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"})
CGNAT_NETWORK = ipaddress.ip_network("100.64.0.0/10")
# RFC 1918 and IPv6 unique-local: what "private networks" means in the setting (Python's is_private is wider).
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
BROADCAST = ipaddress.ip_address("255.255.255.255")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
# RFC 8215 local-use translation prefix: the local translator picks the prefix length (RFC 6052), so
# which IPv4 address an address in it reaches cannot be known here. Python 3.11 calls it global.
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
# RFC 3879 deprecated site-local addresses, still routed inside some sites. Python 3.11 calls them global.
SITE_LOCAL = ipaddress.ip_network("fec0::/10")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")

LOOPBACK = "loopback"

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


class InvalidWebhookURL(ValueError):
    """The URL is not one we send webhooks to; the message says why."""


class DestinationRefused(Exception):
    """The URL's host is, or resolves to, an address outside the policy. Permanent."""


class DestinationUnresolvable(Exception):
    """The hostname did not resolve (yet). Retryable."""


@dataclass(frozen=True)
class WebhookURL:
    """A parsed webhook URL: what to connect to (after the address check) and what to send."""

    scheme: str
    host: str  # lower-case hostname or IP literal without brackets
    port: int
    target: str  # path and query, the request line's target
    ip_literal: IPAddress | None

    @property
    def is_https(self) -> bool:
        return self.scheme == "https"


def parse_webhook_url(url: object, *, require_https: bool = False) -> WebhookURL:
    """Parse ``url`` strictly; raise ``InvalidWebhookURL`` naming the problem.

    Refused: other schemes, user info, missing host, whitespace and control characters, zone ids, and
    IPv4 addresses written in any form but dotted decimal (``2130706433``, ``0x7f000001``, ``017700000001``,
    ``127.1``), because resolvers disagree on what those mean.
    """
    if not isinstance(url, str) or not url:
        raise InvalidWebhookURL("Give the endpoint URL as text, such as https://hooks.example.com/automations.")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookURL(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if _FORBIDDEN_CHARS.search(url):
        raise InvalidWebhookURL("The URL contains whitespace, a control character or a backslash.")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidWebhookURL(f"The URL cannot be parsed: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidWebhookURL("Only http:// and https:// URLs are allowed.")
    if require_https and scheme != "https":
        raise InvalidWebhookURL("Only https:// URLs are allowed here.")
    netloc = parts.netloc
    if "@" in netloc:
        raise InvalidWebhookURL("Credentials in the URL are not allowed; the signature authenticates us.")
    if not netloc:
        raise InvalidWebhookURL("The URL has no host.")
    host_text, port = _split_host_port(netloc, scheme)
    host, ip_literal = _parse_host(host_text)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return WebhookURL(scheme=scheme, host=host, port=port, target=target, ip_literal=ip_literal)


def _split_host_port(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end == -1:
            raise InvalidWebhookURL("The IPv6 address in the URL has no closing bracket.")
        host_text, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidWebhookURL("Unexpected text after the IPv6 address.")
        port_text = rest[1:] if rest else ""
    else:
        host_text, _, port_text = netloc.partition(":")
        if ":" in port_text:
            raise InvalidWebhookURL("Write an IPv6 address in brackets, such as http://[2001:db8::1]/.")
    if not port_text:
        if netloc.endswith(":"):
            raise InvalidWebhookURL("The URL has an empty port.")
        return host_text, DEFAULT_PORTS[scheme]
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise InvalidWebhookURL(f'The port "{port_text}" is not a number.')
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise InvalidWebhookURL(f"The port {port} is out of range (1-65535).")
    return host_text, port


def _parse_host(host_text: str) -> tuple[str, IPAddress | None]:
    if host_text.startswith("["):
        inner = host_text[1:-1]
        if "%" in inner:
            raise InvalidWebhookURL("IPv6 zone ids are not allowed in webhook URLs.")
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise InvalidWebhookURL(f'"{inner}" is not an IPv6 address.') from None
        return str(address), address
    if not host_text:
        raise InvalidWebhookURL("The URL has no host.")
    try:
        host = host_text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidWebhookURL(f'"{host_text}" is not a valid hostname.') from None
    host = host.removesuffix(".")
    labels = host.split(".")
    if _looks_like_ipv4(labels):
        return _canonical_ipv4(host, labels)
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidWebhookURL(f'"{host_text}" is not a valid hostname.')
    return host, None


def _looks_like_ipv4(labels: list[str]) -> bool:
    """WHATWG's rule: a host whose last label is a number (decimal, or 0x hex) is an IPv4 address."""
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return last.startswith("0x") and all(ch in "0123456789abcdef" for ch in last[2:])


def _canonical_ipv4(host: str, labels: list[str]) -> tuple[str, IPAddress]:
    canonical = (
        len(labels) == 4
        and all(label.isascii() and label.isdigit() for label in labels)
        and all(label == "0" or not label.startswith("0") for label in labels)
        and all(int(label) <= 255 for label in labels)
    )
    if canonical:
        return host, ipaddress.IPv4Address(host)
    meaning = _lenient_ipv4(labels)
    hint = f" (some resolvers read it as {meaning})" if meaning else ""
    raise InvalidWebhookURL(f'"{host}" is not an IPv4 address in dotted decimal form{hint}; write a.b.c.d.')


def _lenient_ipv4(labels: list[str]) -> ipaddress.IPv4Address | None:
    """What inet_aton-style parsers make of ``labels`` (hex, octal, 1-4 parts); None if nothing."""
    if not 1 <= len(labels) <= 4:
        return None
    numbers: list[int] = []
    for label in labels:
        try:
            if label.startswith("0x"):
                numbers.append(int(label[2:] or "0", 16))
            elif len(label) > 1 and label.startswith("0"):
                numbers.append(int(label, 8))
            else:
                numbers.append(int(label, 10))
        except ValueError:
            return None
    *head, last = numbers
    if any(part > 255 for part in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, part in enumerate(head):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, translated, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_WELL_KNOWN or address in IPV4_TRANSLATED:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress, *, allow_private: bool, allow_loopback: bool = False) -> str | None:
    """Why we would not connect to ``address`` under the policy, or None when it is allowed.

    Globally routable addresses are allowed. ``allow_private`` also allows loopback, private, link-local,
    site-local and carrier-grade NAT ranges; ``allow_loopback`` only loopback (the demo's receiver under
    ``make run``). Metadata, unspecified, multicast, broadcast and local-use NAT64 addresses never are, nor
    other special-purpose ranges.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "an IPv6 address with a zone id"
        if address in NAT64_LOCAL_USE:
            return "a local-use NAT64 address (64:ff9b:1::/48), which may translate to any IPv4 address"
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = address_refusal(inner, allow_private=allow_private, allow_loopback=allow_loopback)
            return f"it carries the IPv4 address {inner}, {reason}" if reason else None
    if any(address in network for network in METADATA_NETWORKS):
        return "a cloud metadata address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address == BROADCAST:
        return "the broadcast address"
    kind = _local_kind(address)
    if kind is None:
        return None if address.is_global else "not a globally routable address (reserved or special-purpose)"
    if allow_private or (allow_loopback and kind == LOOPBACK):
        return None
    return f"a {kind} address"


def _local_kind(address: IPAddress) -> str | None:
    """Which of the ranges the private-networks setting opens ``address`` is in, if any."""
    if address.is_loopback:
        return LOOPBACK
    if address.is_link_local:
        return "link-local"
    if address in CGNAT_NETWORK:
        return "carrier-grade NAT (100.64.0.0/10)"
    if any(address in network for network in PRIVATE_NETWORKS):
        return "private"
    if address in SITE_LOCAL:
        return "site-local (fec0::/10, deprecated)"
    return None


def url_refusal_at_save(url: WebhookURL, *, allow_private: bool, allow_loopback: bool = False) -> str | None:
    """The save-time check (no DNS): an IP literal or a local name outside the policy, else None."""
    if url.ip_literal is not None:
        reason = address_refusal(url.ip_literal, allow_private=allow_private, allow_loopback=allow_loopback)
        return f"{url.ip_literal} is {reason}" if reason else None
    if url.host in METADATA_HOSTNAMES:
        return f"{url.host} is a cloud metadata name"
    if not (allow_private or allow_loopback) and (url.host == "localhost" or url.host.endswith(".localhost")):
        return f"{url.host} is a loopback name"
    return None


def resolve_destination(url: WebhookURL, *, allow_private: bool, allow_loopback: bool = False) -> list[IPAddress]:
    """Every address ``url``'s host resolves to, all checked; raise if any is refused or none resolves.

    TRICKY: the caller must connect to one of these addresses, not to the name: a second lookup could
    answer differently (DNS rebinding). Refusing when *any* address is refused keeps a name that mixes
    a public and a private answer from reaching the private one through a connect fallback.
    """
    if url.host in METADATA_HOSTNAMES:
        raise DestinationRefused(f"{url.host} is a cloud metadata name")
    if url.ip_literal is not None:
        addresses: list[IPAddress] = [url.ip_literal]
    else:
        try:
            infos = socket.getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise DestinationUnresolvable(f"{url.host} did not resolve: {exc}") from None
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]))
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise DestinationUnresolvable(f"{url.host} resolved to no address")
    for address in addresses:
        reason = address_refusal(address, allow_private=allow_private, allow_loopback=allow_loopback)
        if reason:
            shown = str(address) if url.ip_literal is not None else f"{url.host} resolves to {address}, which"
            raise DestinationRefused(f"{shown} is {reason}")
    return addresses
