"""URL parsing and the address policy: pure, table-driven, plus the real resolver for names."""

from __future__ import annotations

import ipaddress

import pytest

from executions.delivery.addresses import (
    DestinationRefused,
    DestinationUnresolvable,
    InvalidWebhookURL,
    address_refusal,
    embedded_ipv4,
    parse_webhook_url,
    resolve_destination,
    url_refusal_at_save,
)

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it


@pytest.mark.parametrize(
    ("url", "host", "port", "target"),
    [
        ("https://hooks.example.com/automations?x=1", "hooks.example.com", 443, "/automations?x=1"),
        ("http://Example.COM", "example.com", 80, "/"),
        ("http://example.com:8080/a#frag", "example.com", 8080, "/a"),
        ("https://[2001:db8::1]:8443/x", "2001:db8::1", 8443, "/x"),
        ("http://93.184.216.34/", "93.184.216.34", 80, "/"),
        ("https://bücher.example/hook", "xn--bcher-kva.example", 443, "/hook"),
        ("http://example.com./", "example.com", 80, "/"),
    ],
)
def test_parse_accepts_plain_http_urls(url, host, port, target):
    parsed = parse_webhook_url(url)

    assert (parsed.host, parsed.port, parsed.target) == (host, port, target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("http://user:pass@example.com/", "Credentials"),
        ("http://user@example.com/", "Credentials"),
        ("http:///path", "no host"),
        ("http://example.com:0/", "out of range"),
        ("http://example.com:99999/", "out of range"),
        ("http://example.com:80a/", "not a number"),
        ("http://example.com:/", "empty port"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com/\x00", "control character"),
        ("http://example.com\\@evil.com/", "backslash"),
        ("http://[::1/", "cannot be parsed|closing bracket"),
        ("http://[fe80::1%25eth0]/", "zone ids"),
        ("http://[not-v6]/", "cannot be parsed|not an IPv6"),
        ("http://::1/", "in brackets"),
        ("http://exa_mple-.com/", "not a valid hostname"),
        ("http://a..b/", "not a valid hostname"),
        ("", "as text"),
        (None, "as text"),
        ("http://x/" + "a" * 3000, "longer than"),
    ],
)
def test_parse_refuses_with_a_reason(url, message):
    with pytest.raises(InvalidWebhookURL, match=message):
        parse_webhook_url(url)


@pytest.mark.parametrize(
    ("url", "meaning"),
    [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://017700000001/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0x7f.0.0.1/", "127.0.0.1"),
        ("http://167772161/", "10.0.0.1"),
        ("http://2852039166/", "169.254.169.254"),
        ("http://127.000.000.001/", "127.0.0.1"),
    ],
)
def test_parse_refuses_every_non_dotted_decimal_ipv4_form(url, meaning):
    with pytest.raises(InvalidWebhookURL, match="dotted decimal") as excinfo:
        parse_webhook_url(url)

    assert meaning in str(excinfo.value)


def test_parse_can_require_https():
    with pytest.raises(InvalidWebhookURL, match="Only https://"):
        parse_webhook_url("http://example.com/", require_https=True)
    assert parse_webhook_url("https://example.com/", require_https=True).is_https


REFUSED_WHEN_PRIVATE_NOT_ALLOWED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fe80::1", "link-local"),
    ("169.254.10.10", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "not a globally routable"),
    ("192.0.2.10", "not a globally routable"),
    ("::ffff:127.0.0.1", "carries the IPv4 address 127.0.0.1"),
    ("::ffff:10.0.0.1", "carries the IPv4 address 10.0.0.1"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::127.0.0.1", "carries the IPv4 address 127.0.0.1"),
    ("2002:7f00:1::", "carries the IPv4 address 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "metadata"),
    ("64:ff9b::7f00:1", "carries the IPv4 address 127.0.0.1"),
    ("64:ff9b::a00:1", "carries the IPv4 address 10.0.0.1"),
    ("::ffff:0:7f00:1", "carries the IPv4 address 127.0.0.1"),
    ("2001::1", "not a globally routable"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("64:ff9b:1::808:808", "local-use NAT64"),
    ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use NAT64"),
    ("fec0::1", "site-local"),
    ("feff:ffff::1", "site-local"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED_WHEN_PRIVATE_NOT_ALLOWED)
def test_non_global_addresses_are_refused_by_default(address, reason):
    refusal = address_refusal(ipaddress.ip_address(address), allow_private=False)

    assert refusal is not None and reason in refusal


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_global_addresses_are_allowed(address):
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.0.0.1",
        "172.31.0.1",
        "192.168.1.1",
        "fd12::1",
        "100.64.0.1",
        "fe80::1",
        "::ffff:7f00:1",
        "fec0::1",
    ],
)
def test_allowing_private_networks_allows_local_ranges(address):
    assert address_refusal(ipaddress.ip_address(address), allow_private=True) is None


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.10",
        "64:ff9b:1::a00:1",  # which IPv4 address it reaches depends on the local translator
    ],
)
def test_metadata_unspecified_and_multicast_stay_refused_even_when_private_is_allowed(address):
    assert address_refusal(ipaddress.ip_address(address), allow_private=True) is not None


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::127.0.0.1", "127.0.0.1"),
        ("2002:0a00:0001::", "10.0.0.1"),
        ("64:ff9b::c0a8:101", "192.168.1.1"),
        ("2606:4700:4700::1111", None),
        ("::1", None),
    ],
)
def test_embedded_ipv4(address, inner):
    found = embedded_ipv4(ipaddress.IPv6Address(address))

    assert (str(found) if found else None) == inner


@pytest.mark.parametrize(
    ("url", "allow_private", "refused"),
    [
        ("http://127.0.0.1/", False, True),
        ("http://127.0.0.1/", True, False),
        ("http://[::ffff:127.0.0.1]/", False, True),
        ("http://[::1]/", False, True),
        ("http://10.0.0.1/", False, True),
        ("http://100.64.0.1/", False, True),
        ("http://169.254.169.254/latest/meta-data/", True, True),
        ("http://localhost:8000/", False, True),
        ("http://api.localhost/", False, True),
        ("http://localhost:8000/", True, False),
        ("http://metadata.google.internal/", True, True),
        ("https://hooks.example.com/", False, False),
        ("http://8.8.8.8/", False, False),
        ("http://[fec0::1]/", False, True),
        ("http://[fec0::1]/", True, False),
        ("http://[64:ff9b:1::808:808]/", False, True),
        ("http://[64:ff9b:1::808:808]/", True, True),
        ("http://[64:ff9b::808:808]/", False, False),  # the well-known prefix carries 8.8.8.8
    ],
)
def test_save_time_check(url, allow_private, refused):
    refusal = url_refusal_at_save(parse_webhook_url(url), allow_private=allow_private)

    assert (refusal is not None) is refused


def test_a_name_resolving_to_loopback_is_refused_at_send_time():
    with pytest.raises(DestinationRefused, match=r"localhost resolves to 127\.0\.0\.1, which is a loopback"):
        resolve_destination(parse_webhook_url("http://localhost:9/"), allow_private=False)


def test_a_name_resolving_to_loopback_is_allowed_when_private_networks_are():
    addresses = resolve_destination(parse_webhook_url("http://localhost:9/"), allow_private=True)

    assert ipaddress.ip_address("127.0.0.1") in addresses


def test_an_ip_literal_is_checked_without_dns():
    with pytest.raises(DestinationRefused, match=r"169\.254\.169\.254 is a cloud metadata address"):
        resolve_destination(parse_webhook_url("http://169.254.169.254/"), allow_private=True)


def test_an_unresolvable_name_is_reported_as_such():
    with pytest.raises(DestinationUnresolvable, match="did not resolve"):
        resolve_destination(parse_webhook_url("http://no-such-host.invalid/"), allow_private=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://[fec0::1]/", "site-local"), ("http://[64:ff9b:1::a00:1]:8080/", "local-use NAT64")],
)
def test_site_local_and_local_use_nat64_literals_are_refused_at_send_time(url, reason):
    with pytest.raises(DestinationRefused, match=reason):
        resolve_destination(parse_webhook_url(url), allow_private=False)


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:8000/demo-store/tenant_demo/webhook", False),
        ("http://[::1]:8000/", False),
        ("http://localhost:8000/", False),
        ("http://10.0.0.1/", True),
        ("http://192.168.1.1/", True),
        ("http://169.254.169.254/", True),
        ("http://[fe80::1]/", True),
    ],
)
def test_allowing_loopback_allows_loopback_only(url, refused):
    parsed = parse_webhook_url(url)
    assert (url_refusal_at_save(parsed, allow_private=False, allow_loopback=True) is not None) is refused
    if parsed.ip_literal is not None:
        refusal = address_refusal(parsed.ip_literal, allow_private=False, allow_loopback=True)
        assert (refusal is not None) is refused
    if parsed.host == "localhost":
        assert resolve_destination(parsed, allow_private=False, allow_loopback=True)
