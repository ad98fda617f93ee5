"""How a bus socket authenticates: CURVE settings for clients and for the bus, and the
plaintext rule.

Every bus socket is a CURVE socket (R12): the bus is the CURVE server on all five, and its ZAP
handler (:mod:`runtime.bus.zap`) admits only allow-listed client keys. A client needs its own
key pair and the bus's public key (:class:`ClientSecurity`); a wrong bus key fails the
handshake, so nothing is delivered either way. ``None`` in place of a security object means
plaintext (the NULL mechanism), which :func:`check_plaintext` allows on loopback only.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

import zmq

from runtime.bus.keys import (
    BUS_KEY_NAME,
    SECRET_SUFFIX,
    SITE_FILE,
    KeyFileError,
    KeyPair,
    read_key_pair,
)
from runtime.errors import UsageError

KEYS_ENV = "TWINSTAGE_KEYS"
"""Folder of the site's keys (default ``keys`` under the current directory)."""
KEY_ENV = "TWINSTAGE_KEY"
"""A person's key file for tap, write and view when ``--key`` is not given."""
DEFAULT_KEYS_DIR = "keys"
ZAP_DOMAIN = "twinstage"


@dataclass(frozen=True, slots=True)
class ClientSecurity:
    """A client's CURVE key pair and the bus's public key (all Z85)."""

    name: str
    public_key: str
    secret_key: str
    bus_public_key: str
    role: str = ""
    """The role the key file says (informational: the bus decides from its allow-list)."""

    @classmethod
    def from_pair(cls, pair: KeyPair, bus_public_key: str = "") -> ClientSecurity:
        bus = bus_public_key or pair.bus_public_key
        if not bus:
            raise KeyFileError(f"{pair.path or pair.name}: carries no bus-public-key; give the "
                               "bus's public key file too")
        return cls(pair.name, pair.public_key, pair.secret_key, bus, pair.role)

    def apply(self, sock: zmq.Socket) -> None:
        sock.curve_serverkey = self.bus_public_key.encode("ascii")
        sock.curve_publickey = self.public_key.encode("ascii")
        sock.curve_secretkey = self.secret_key.encode("ascii")


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    """The bus's key pair and where its allow-list lives."""

    public_key: str
    secret_key: str
    site_path: Path

    def apply(self, sock: zmq.Socket) -> None:
        sock.curve_server = True
        sock.curve_publickey = self.public_key.encode("ascii")
        sock.curve_secretkey = self.secret_key.encode("ascii")
        sock.zap_domain = ZAP_DOMAIN.encode("ascii")


Security = ClientSecurity | ServerSecurity


def apply_security(sock: zmq.Socket, security: Security | None) -> None:
    """Make ``sock`` a CURVE client or server; plaintext when ``security`` is None."""
    if security is not None:
        security.apply(sock)


_HOST = re.compile(r"^(?:tcp://)?(\[[^\]]*\]|[^:/]+)")


def is_loopback(address: str) -> bool:
    """Whether ``tcp://HOST:PORT`` (or ``HOST:PORT``) names this machine only."""
    match = _HOST.match(address.strip())
    if match is None:
        return False
    host = match[1].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plaintext(addresses: list[str], what: str) -> None:
    """Refuse plaintext (``--insecure``) for anything but loopback addresses."""
    remote = [a for a in addresses if not is_loopback(a)]
    if remote:
        raise UsageError(f"{what}: plaintext (--insecure) is allowed on loopback only, not "
                         f"{remote[0]}; use keys (docs/security.md) to reach other machines")


def keys_dir(given: str | Path | None = None) -> Path:
    """``--keys DIR``, else $TWINSTAGE_KEYS, else ``./keys``."""
    return Path(given or os.environ.get(KEYS_ENV) or DEFAULT_KEYS_DIR)


def server_security(folder: str | Path | None = None) -> ServerSecurity:
    """The bus's security from its keys folder; UsageError with the fix when incomplete."""
    folder = keys_dir(folder)
    secret = folder / f"{BUS_KEY_NAME}{SECRET_SUFFIX}"
    site = folder / SITE_FILE
    if not secret.exists() or not site.exists():
        raise UsageError(f"no bus keys in {folder}: create them with `twinstage keys new NAME "
                         f"--role ROLE --keys {folder}` (or run on loopback with --insecure)")
    try:
        pair = read_key_pair(secret)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None
    return ServerSecurity(pair.public_key, pair.secret_key, site)


def client_security(key_file: str | Path | None, *, service: str | None = None,
                    keys: str | Path | None = None, insecure: bool = False,
                    address: str = "", command: str = "") -> ClientSecurity | None:
    """A client's security from ``--key``/$TWINSTAGE_KEY (people) or the keys folder (services).

    Services (adapter, plant) fall back to ``<keys>/<service>.key_secret``; tap, write and view
    do not: a person's key is never picked for them. None with ``insecure`` (loopback only).
    """
    if insecure:
        if key_file:
            raise UsageError(f"{command}: --insecure and --key exclude each other")
        check_plaintext([address], command)
        return None
    path: Path | None = Path(key_file) if key_file else None
    if path is None and service is None and os.environ.get(KEY_ENV):
        path = Path(os.environ[KEY_ENV])
    if path is None and service is not None:
        path = keys_dir(keys) / f"{service}{SECRET_SUFFIX}"
    if path is None:
        raise UsageError(f"{command}: no key: the bus admits only allow-listed keys; give --key "
                         f"FILE (e.g. keys/viewer{SECRET_SUFFIX}; `twinstage keys new NAME "
                         f"--role viewer` makes one) or set {KEY_ENV}")
    try:
        pair = read_key_pair(path)
        bus = ""
        if not pair.bus_public_key:
            bus_file = path.parent / f"{BUS_KEY_NAME}.key"
            bus = read_key_pair(bus_file, need_secret=False).public_key
        return ClientSecurity.from_pair(pair, bus)
    except KeyFileError as exc:
        raise UsageError(f"{command}: {exc}") from None


__all__ = [
    "KEYS_ENV",
    "KEY_ENV",
    "ClientSecurity",
    "Security",
    "ServerSecurity",
    "apply_security",
    "check_plaintext",
    "client_security",
    "is_loopback",
    "keys_dir",
    "server_security",
]
