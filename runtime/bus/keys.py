"""Bus keys: the site allow-list (who may connect, as whom) and CURVE key pair files.

A keys folder holds (docs/security.md):

- ``site.json``: the allow-list the bus reads (public keys only, safe to copy around)::

      {"version": 1, "keys": [{"name": "alice", "role": "operator", "public_key": "<z85>",
        "publish": [], "commands": true, "history": true, "revoked": false}, ...]}

  ``name`` becomes the actor of every command sent with the key; ``role`` its role (viewer,
  operator, instructor, engineer); ``publish`` the source ids (fnmatch globs) it may publish
  readings for and register as an adapter; ``commands`` whether it may send commands at all (a
  viewer never may); ``revoked`` keys are refused like unknown ones but stay listed.
- ``bus.key_secret``: the bus's own key pair (mode 0600), and ``bus.key``: its public half.
- ``NAME.key_secret``: one client's key pair (mode 0600), with the bus's public key in its
  metadata so that the one file is all a station needs.
- ``audit.key``: 32 secret bytes in hex (mode 0600) keying the audit logs' hash chains
  (HMAC-SHA256), held by the adapters and the bus.

Key pair files use the ZPL certificate layout of czmq's ``zcert`` (and pyzmq's ``zmq.auth``),
so other ZeroMQ tools read them. Everything read here is checked: a parse error is a
:class:`KeyFileError` that names the file and the problem, never another exception.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import zmq

ROLES = ("viewer", "operator", "instructor", "engineer")
"""Roles a key can carry. ``engineer`` is for services (adapters, the plant): no writes."""
SITE_FILE = "site.json"
AUDIT_KEY_FILE = "audit.key"
BUS_KEY_NAME = "bus"
SECRET_SUFFIX = ".key_secret"
PUBLIC_SUFFIX = ".key"
SITE_VERSION = 1
MAX_SITE_BYTES = 4 << 20
"""A site file larger than this is refused (about 10,000 keys fit in far less)."""
MAX_KEYS = 10_000
MAX_KEY_FILE_BYTES = 8192
MAX_NAME_LEN = 64
"""Key names are actors on the wire: 1..64 visible ASCII characters, no spaces."""
MAX_PUBLISH = 1000

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
"""Key names: also file names, so letters, digits and ``_ . @ -``, not starting with a dot."""
_Z85_KEY = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")
"""A CURVE key in Z85: 40 characters of the Z85 alphabet (32 bytes)."""
_GLOB = re.compile(r"[\x21-\x7e]{1,64}")
_FIELDS = {"name", "role", "public_key", "publish", "commands", "history", "revoked"}


class KeyFileError(ValueError):
    """A key file or the site file is missing, unreadable, malformed or too open."""


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One allow-listed public key and what it may do."""

    name: str
    """The actor: who the bus says sent a command with this key."""
    role: str
    public_key: str
    """Z85, 40 characters."""
    publish: tuple[str, ...] = ()
    """Source ids (fnmatch globs) this key may publish for and register as adapter."""
    commands: bool = False
    """May send commands (never for the viewer role)."""
    history: bool = True
    """May query history (for the historian)."""
    revoked: bool = False

    def may_publish(self, source: str) -> bool:
        """Whether this key may publish readings for (or register as) ``source``."""
        return not self.revoked and any(fnmatchcase(source, g) for g in self.publish)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "public_key": self.public_key,
                "publish": list(self.publish), "commands": self.commands,
                "history": self.history, "revoked": self.revoked}


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The allow-list: entries by public key and by name (both unique)."""

    entries: tuple[KeyEntry, ...] = ()
    by_key: dict[str, KeyEntry] = field(default_factory=dict, compare=False)
    by_name: dict[str, KeyEntry] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, entries: list[KeyEntry] | tuple[KeyEntry, ...]) -> KeyRing:
        """A ring of ``entries``; KeyFileError on a repeated name or public key."""
        by_key: dict[str, KeyEntry] = {}
        by_name: dict[str, KeyEntry] = {}
        for e in entries:
            if e.name in by_name:
                raise KeyFileError(f"key name {e.name!r} appears twice")
            if e.public_key in by_key:
                other = by_key[e.public_key].name
                raise KeyFileError(f"public key of {e.name!r} is also {other!r}'s")
            by_key[e.public_key] = e
            by_name[e.name] = e
        return cls(tuple(entries), by_key, by_name)

    def allowed(self, public_key: str) -> KeyEntry | None:
        """The live (not revoked) entry for ``public_key``, or None."""
        entry = self.by_key.get(public_key)
        return None if entry is None or entry.revoked else entry

    def active(self, name: str) -> KeyEntry | None:
        """The live entry called ``name`` (a ZAP user id), or None."""
        entry = self.by_name.get(name)
        return None if entry is None or entry.revoked else entry

    def with_entry(self, entry: KeyEntry) -> KeyRing:
        """This ring with ``entry`` added, or replacing the entry of the same name."""
        return KeyRing.of([e for e in self.entries if e.name != entry.name] + [entry])

    def to_json(self) -> str:
        return json.dumps({"version": SITE_VERSION, "keys": [e.to_json() for e in self.entries]},
                          indent=1) + "\n"


def _entry(raw: Any, where: str) -> KeyEntry:
    if not isinstance(raw, dict):
        raise KeyFileError(f"{where}: expected an object")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise KeyFileError(f"{where}: unknown field(s) {sorted(map(str, unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise KeyFileError(f"{where}: name must be 1..{MAX_NAME_LEN} letters, digits or _.@- "
                           "(not starting with . _ @ -)")
    where = f"{where} ({name})"
    role = raw.get("role")
    if role not in ROLES:
        raise KeyFileError(f"{where}: role must be one of {', '.join(ROLES)}")
    key = raw.get("public_key")
    if not isinstance(key, str) or not _Z85_KEY.fullmatch(key):
        raise KeyFileError(f"{where}: public_key must be a 40-character Z85 CURVE key")
    publish = raw.get("publish", [])
    if not isinstance(publish, list) or len(publish) > MAX_PUBLISH or not all(
            isinstance(g, str) and _GLOB.fullmatch(g) for g in publish):
        raise KeyFileError(f"{where}: publish must be a list of source ids or globs "
                           "(1..64 visible ASCII characters each)")
    flags = {}
    for flag, default in (("commands", role != "viewer"), ("history", True), ("revoked", False)):
        value = raw.get(flag, default)
        if not isinstance(value, bool):
            raise KeyFileError(f"{where}: {flag} must be true or false")
        flags[flag] = value
    if role == "viewer" and flags["commands"]:
        raise KeyFileError(f"{where}: a viewer key cannot send commands (commands: false)")
    return KeyEntry(name, role, key, tuple(publish), **flags)


def parse_site(text: str | bytes) -> KeyRing:
    """The allow-list in ``text`` (site.json); KeyFileError for anything malformed."""
    if len(text) > MAX_SITE_BYTES:
        raise KeyFileError(f"larger than {MAX_SITE_BYTES} bytes")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise KeyFileError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"version", "keys"}:
        raise KeyFileError('expected an object with exactly "version" and "keys"')
    if doc["version"] != SITE_VERSION or isinstance(doc["version"], bool):
        raise KeyFileError(f"version must be {SITE_VERSION}")
    keys = doc["keys"]
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise KeyFileError(f'"keys" must be a list of at most {MAX_KEYS} entries')
    return KeyRing.of([_entry(raw, f"keys[{i}]") for i, raw in enumerate(keys)])


def load_site(path: str | Path) -> KeyRing:
    """Read and parse ``path``; KeyFileError (with the path) when it cannot be used."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SITE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return parse_site(data)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def save_site(path: str | Path, ring: KeyRing) -> None:
    """Write the allow-list atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, ring.to_json().encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# -- key pair files -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A CURVE key pair as read from a ``.key_secret`` file (keys in Z85)."""

    name: str
    public_key: str
    secret_key: str
    role: str = ""
    """What the file says; informational only: the bus decides from its allow-list."""
    bus_public_key: str = ""
    """The bus's public key, when the file carries it (client key files do)."""
    path: Path | None = None


def new_key_pair(name: str, *, role: str = "", bus_public_key: str = "") -> KeyPair:
    """A fresh CURVE key pair (libzmq's CSPRNG)."""
    public, secret = zmq.curve_keypair()
    return KeyPair(name, public.decode("ascii"), secret.decode("ascii"), role, bus_public_key)


def _zpl(pair: KeyPair, secret: bool) -> str:
    meta = [f'    name = "{pair.name}"']
    if pair.role:
        meta.append(f'    role = "{pair.role}"')
    if pair.bus_public_key:
        meta.append(f'    bus-public-key = "{pair.bus_public_key}"')
    what = "secret key: keep it private (mode 0600)" if secret else "public key"
    lines = [f"#   twinstage {what}", "metadata", *meta, "curve",
             f'    public-key = "{pair.public_key}"']
    if secret:
        lines.append(f'    secret-key = "{pair.secret_key}"')
    return "\n".join(lines) + "\n"


def write_key_pair(folder: str | Path, pair: KeyPair) -> Path:
    """Write ``NAME.key_secret`` (mode 0600, never overwriting) and ``NAME.key``; the secret
    file's path. FileExistsError if the secret file exists."""
    folder = Path(folder)
    secret_path = folder / f"{pair.name}{SECRET_SUFFIX}"
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask said
        os.write(fd, _zpl(pair, True).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    (folder / f"{pair.name}{PUBLIC_SUFFIX}").write_text(_zpl(pair, False), encoding="ascii")
    return secret_path


_ZPL_LINE = re.compile(r'^\s+([a-z][a-z-]{0,31})\s*=\s*"([\x20-\x21\x23-\x7e]{0,128})"\s*$')


def parse_key_text(text: str) -> dict[str, str]:
    """The ``key = "value"`` settings of a ZPL key file (section names dropped);
    KeyFileError for a line that is none of comment, section or setting."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line in ("metadata", "curve"):
            continue
        match = _ZPL_LINE.match(line)
        if match is None:
            raise KeyFileError(f"line {number} is not a ZPL setting (    name = \"value\")")
        values[match[1]] = match[2]
    return values


def read_key_pair(path: str | Path, *, need_secret: bool = True) -> KeyPair:
    """Read a key file; with ``need_secret`` it must hold the secret key and be readable by
    its owner only (mode 0600 or stricter), else KeyFileError says what to do."""
    path = Path(path)
    try:
        if need_secret:
            _private(path)
        with path.open("rb") as f:
            data = f.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path} is too large for a key file")
    try:
        values = parse_key_text(data.decode("ascii"))
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not an ASCII key file") from None
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    public = values.get("public-key", "")
    secret = values.get("secret-key", "")
    bus = values.get("bus-public-key", "")
    if not _Z85_KEY.fullmatch(public):
        raise KeyFileError(f"{path}: no valid public-key")
    if need_secret:
        if not _Z85_KEY.fullmatch(secret):
            raise KeyFileError(f"{path}: no valid secret-key (is this the .key_secret file?)")
        if zmq.curve_public(secret.encode("ascii")).decode("ascii") != public:
            raise KeyFileError(f"{path}: secret-key does not belong to public-key")
    if bus and not _Z85_KEY.fullmatch(bus):
        raise KeyFileError(f"{path}: bus-public-key is not a valid key")
    return KeyPair(values.get("name", path.stem), public, secret, values.get("role", ""), bus,
                   path)


# -- the keys folder ----------------------------------------------------------------------------


def _private(path: Path) -> None:
    """KeyFileError unless ``path`` is readable by its owner only."""
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is readable by others (mode {stat.S_IMODE(mode):04o}): a "
                           f"secret must be private; run: chmod 600 {path}")


def ensure_audit_key(folder: str | Path) -> Path:
    """``audit.key`` in ``folder`` (32 random bytes, hex, mode 0600), made if missing."""
    path = Path(folder) / AUDIT_KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, os.urandom(32).hex().encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def read_audit_key(path: str | Path) -> bytes:
    """The audit key in ``path``; KeyFileError when unreadable, malformed or not private."""
    path = Path(path)
    try:
        _private(path)
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except OSError as exc:
        raise KeyFileError(f"cannot read audit key {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError):
        raise KeyFileError(f"{path}: an audit key is 64 hex digits") from None
    if len(key) != 32:
        raise KeyFileError(f"{path}: an audit key is 64 hex digits (32 bytes)")
    return key


def ensure_bus_key(folder: str | Path) -> KeyPair:
    """The bus's key pair in ``folder``, created (with an empty allow-list and an audit key)
    on first use."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ensure_audit_key(folder)
    secret = folder / f"{BUS_KEY_NAME}{SECRET_SUFFIX}"
    if not secret.exists():
        write_key_pair(folder, new_key_pair(BUS_KEY_NAME, role="bus"))
    if not (folder / SITE_FILE).exists():
        save_site(folder / SITE_FILE, KeyRing())
    return read_key_pair(secret)


def add_key(folder: str | Path, name: str, role: str, *, publish: tuple[str, ...] = (),
            commands: bool | None = None) -> Path:
    """Make ``NAME.key_secret`` for a new client and allow-list its public key; its path.

    KeyFileError for a bad name or role, or when the name is taken (revoked names too: a key
    name is an actor in the audit log and is never reused).
    """
    folder = Path(folder)
    bus = ensure_bus_key(folder)
    if name == BUS_KEY_NAME:
        raise KeyFileError(f"{name!r} is the bus's own key")
    ring = load_site(folder / SITE_FILE)
    if name in ring.by_name:
        raise KeyFileError(f"a key called {name!r} exists already in {folder / SITE_FILE}")
    if (folder / f"{name}{SECRET_SUFFIX}").exists():
        raise KeyFileError(f"{folder / (name + SECRET_SUFFIX)} exists already")
    pair = new_key_pair(name, role=role, bus_public_key=bus.public_key)
    entry = _entry({"name": name, "role": role, "public_key": pair.public_key,
                    "publish": list(publish),
                    "commands": role != "viewer" if commands is None else commands}, name)
    path = write_key_pair(folder, pair)
    save_site(folder / SITE_FILE, ring.with_entry(entry))
    return path


def revoke_key(folder: str | Path, name: str) -> KeyEntry:
    """Mark ``name`` revoked in the allow-list (a running bus cuts it within a second) and
    delete its secret file if it lies in ``folder``; the entry as it was."""
    folder = Path(folder)
    ring = load_site(folder / SITE_FILE)
    entry = ring.by_name.get(name)
    if entry is None:
        raise KeyFileError(f"no key called {name!r} in {folder / SITE_FILE}")
    save_site(folder / SITE_FILE, ring.with_entry(replace(entry, revoked=True)))
    (folder / f"{name}{SECRET_SUFFIX}").unlink(missing_ok=True)
    return entry


__all__ = [
    "BUS_KEY_NAME",
    "ROLES",
    "SITE_FILE",
    "KeyEntry",
    "KeyFileError",
    "KeyPair",
    "KeyRing",
    "add_key",
    "ensure_audit_key",
    "read_audit_key",
    "ensure_bus_key",
    "load_site",
    "new_key_pair",
    "parse_key_text",
    "parse_site",
    "read_key_pair",
    "revoke_key",
    "save_site",
    "write_key_pair",
]
