"""Which network destinations the web tools may reach (SSRF protection), standard library only.

A destination is checked after name resolution: every address a host name resolves to must be
globally routable (not loopback, private, link-local, shared/CGNAT, multicast, reserved,
unspecified, site-local, nor one of those wrapped in an IPv6 form: IPv4-mapped, IPv4-compatible,
6to4, NAT64, Teredo), and the caller then connects to exactly the addresses that were checked, so
a second DNS answer cannot differ from the first (DNS rebinding). `forge.security.guarded_http`
applies this to every connection an httpx client opens, redirects included.

The allowlist (`AUTOGPT_WEB_ALLOWLIST`) names what a user means to reach anyway; an entry is
  host          a name, exactly (`localhost`, `intranet.example`); `*.example` for its subdomains
  host:port     that name on that port only
  IP, IP:port   an address (`127.0.0.1:8765`, `[::1]:8080` for IPv6 with a port)
  CIDR          a network (`10.0.0.0/8`, `fd00::/8`), any port
A name entry trusts whatever the name resolves to; an address entry bypasses the check only for
that address (and port).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from forge.errors import ConfigError, PolicyViolationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWLIST_SETTING = "AUTOGPT_WEB_ALLOWLIST"

# Cloud metadata services, refused by name whatever the local resolver answers for them (their
# usual addresses, 169.254.169.254 and fd00:ec2::254, are refused by the address check too).
METADATA_NAMES = frozenset({
    "metadata", "metadata.goog", "metadata.google.internal", "instance-data", "instance-data.ec2.internal",
    "metadata.azure.com", "metadata.tencentyun.com",
})

# Checked explicitly as well as through ipaddress's flags, whose lists differ between Python releases.
_SPECIAL_NETWORKS: tuple[tuple[str, IPNetwork], ...] = tuple(
    (label, ipaddress.ip_network(net)) for label, net in (
        ("'this network'", "0.0.0.0/8"),
        ("shared (CGNAT)", "100.64.0.0/10"),
        ("IETF protocol", "192.0.0.0/24"),
        ("documentation", "192.0.2.0/24"),
        ("6to4 relay", "192.88.99.0/24"),
        ("benchmarking", "198.18.0.0/15"),
        ("documentation", "198.51.100.0/24"),
        ("documentation", "203.0.113.0/24"),
        ("reserved", "240.0.0.0/4"),
        ("IPv4-compatible IPv6", "::/96"),
        ("discard-only", "100::/64"),
        ("IETF protocol", "2001::/23"),
        ("documentation", "2001:db8::/32"),
        ("unique-local", "fc00::/7"),
        ("site-local", "fec0::/10"),
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_V4_COMPAT = ipaddress.ip_network("::/96")


def address_problem(ip: IPAddress) -> str | None:
    """Why `ip` is not a public destination (e.g. "a loopback address"), or None when it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = address_problem(embedded)
            if inner:
                return f"{inner} ({embedded}) in IPv6 form"
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
    )
    for label, hit in checks:
        if hit:
            return f"a {label} address"
    for label, net in _SPECIAL_NETWORKS:
        if ip.version == net.version and ip in net:
            return f"a {label} address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, 6to4, NAT64, Teredo client)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64) or (ip in _V4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _normalise_ip(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _normalise_name(host: str) -> str:
    return host.strip().lower().rstrip(".")


# Allowlist -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Allowlist:
    names: frozenset[tuple[str, int | None]] = frozenset()  # (name or "*.suffix", port or any)
    networks: tuple[tuple[IPNetwork, int | None], ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        names: set[tuple[str, int | None]] = set()
        networks: list[tuple[IPNetwork, int | None]] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            parsed = parse_entry(entry)
            if isinstance(parsed[0], str):
                names.add((parsed[0], parsed[1]))
            else:
                networks.append((parsed[0], parsed[1]))
        return cls(frozenset(names), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.names or self.networks)

    def allows_name(self, host: str, port: int) -> bool:
        name = _normalise_name(host)
        for pattern, allowed_port in self.names:
            if allowed_port not in (None, port):
                continue
            if pattern == name or (pattern.startswith("*.") and name.endswith(pattern[1:])):
                return True
        return False

    def allows_ip(self, ip: IPAddress, port: int) -> bool:
        ip = _normalise_ip(ip)
        return any(
            ip.version == net.version and ip in net and allowed_port in (None, port)
            for net, allowed_port in self.networks
        )


def parse_entry(entry: str) -> tuple[str, int | None] | tuple[IPNetwork, int | None]:
    """One allowlist entry -> (name, port) or (network, port); ConfigError when it is none of the forms."""
    hint = (
        f"bad {ALLOWLIST_SETTING} entry {entry!r}: use host, host:port, an IP, IP:port, [IPv6]:port "
        "or a CIDR such as 10.0.0.0/8"
    )
    host, port = entry, None
    if entry.startswith("["):  # [IPv6] or [IPv6]:port
        inside, sep, rest = entry[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError(hint)
        host, port = inside, _port(rest[1:], hint) if rest else None
    elif "/" in entry:
        try:
            return ipaddress.ip_network(entry, strict=False), None
        except ValueError:
            raise ConfigError(hint) from None
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        port = _port(port_text, hint)
    try:
        ip = _normalise_ip(ipaddress.ip_address(host))
        return ipaddress.ip_network(ip), port
    except ValueError:
        pass
    name = _normalise_name(host)
    try:
        name = name.encode("idna").decode("ascii")  # as httpx and Chromium send it
    except UnicodeError:
        raise ConfigError(hint) from None
    labels = name[2:] if name.startswith("*.") else name
    if not labels or any(not part or not all(c.isalnum() or c in "-_" for c in part) for part in labels.split(".")):
        raise ConfigError(hint)
    return name, port


def _port(text: str, hint: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(hint)
    return int(text)


# Resolution and the check ----------------------------------------------------------------------
@dataclass
class NetGuard:
    """Resolves a destination once and returns the addresses that may be connected to."""

    allowlist: Allowlist = field(default_factory=Allowlist)

    def check_name(self, host: str, port: int) -> bool:
        """True when the allowlist names this host (then any address it resolves to is fine).
        Refuses cloud-metadata names outright unless they are allowlisted."""
        if self.allowlist.allows_name(host, port):
            return True
        name = _normalise_name(host)
        if name in METADATA_NAMES:
            raise PolicyViolationError(
                f"web access to {_hostport(host, port)} refused: {name} is a cloud-metadata service; "
                f"{_allow_hint(host, port)}"
            )
        return False

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of `host` to connect to, each checked (unless the name is allowlisted).

        Raises PolicyViolationError if any of them may not be reached, OSError if the name does not
        resolve."""
        trusted = self.check_name(host, port)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise OSError(f"{host} has no address")
        if not trusted:
            for address in addresses:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
                problem = address_problem(ip)
                if problem and not self.allowlist.allows_ip(ip, port):
                    shown = "" if _normalise_name(host) == address else f" ({host} resolves to {address})"
                    raise PolicyViolationError(
                        f"web access to {_hostport(host, port)} refused: {address} is {problem}{shown}; "
                        f"{_allow_hint(host, port)}"
                    )
        return addresses


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _allow_hint(host: str, port: int) -> str:
    return f"if you mean to reach it, add {_hostport(host, port)} to {ALLOWLIST_SETTING}"
