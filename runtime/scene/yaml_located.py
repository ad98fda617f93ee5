"""Load YAML into plain Python data while remembering the line of every key and item.

Validation errors must name the line, so we do not use ``safe_load``. We read libyaml's event
stream (the same C parser ``safe_load`` uses, so the same syntax errors) and build the data and
the lines from it directly: no node tree is composed, which made loading a 10,000-point device
file several times slower. Scalars are resolved and constructed the way PyYAML's SafeLoader
does (YAML 1.1: ``yes`` is True, ``0x1f`` is 31, ``2024-05-01`` a date), memoised per value since
device files repeat the same values thousands of times.

Scene and device files are untrusted input (R19): an alias (``*name``) to a list or mapping is
refused, since aliases are how a "billion laughs" file expands a few lines into gigabytes and
how a recursive anchor loops forever; a list or mapping as a key is refused for the same reason;
nesting deeper than MAX_DEPTH and more than MAX_NODES values are refused too. Explicit tags are
constructed by the SafeLoader's constructor, which refuses every ``!!python/...`` tag. Each is a
SceneError naming the line, never a hang or a traceback.

When a file has several problems, the one reported is the one the composing loader this replaced
reported: YAML syntax and anchor errors anywhere in the file win over the first problem with the
data, so the rest of the file is still parsed after a problem with the data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from runtime.scene.errors import SceneError

Lines = dict[tuple[str | int, ...], int]
"""Maps a path of keys/indices inside the document to its 1-based line."""

_MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
"""Nesting of mappings and lists; the scene format needs fewer than 10."""
MAX_NODES = 2_000_000
"""Values (scalars, lists, mappings) in one file."""
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: same marks, several times faster."""
_STR_TAG = "tag:yaml.org,2002:str"
_MISSING = object()


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
"""Plain decimal integers: no ``_``, no base prefix, no leading zero (``017`` is octal)."""
_DECIMAL_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*")
"""Plain decimal fractions such as ``-2.5``: no ``_``, no exponent, no ``:`` (base 60)."""
_ALIAS_REFUSED = ("YAML aliases (*name) to lists or mappings are not allowed in scene files: "
                  "write the value out")
_KEY_REFUSED = "bad key: a list or mapping cannot be a key"
_CONSTRUCT_ERRORS = (yaml.YAMLError, ValueError, OverflowError)
"""What constructing a scalar raises: ValueError for ``2024-02-30``, ``0x_`` or a 5,000-digit
integer (the composing loader let those through as tracebacks)."""

Anchor = tuple[int, ScalarEvent | None]
"""Line of an anchored node, and its event when it is a scalar (None for a list or mapping)."""


def load_located(path: Path) -> tuple[Any, Lines]:
    """Parse ``path`` and return (data, lines). Raises SceneError for unreadable or bad YAML."""
    text = _read_text(path)
    loader = _LOADER(text)
    anchors: dict[str, Anchor] = {}
    try:
        try:
            return _build(loader.get_event, path, anchors)
        except _RefusedError as refused:
            _drain(loader.get_event, path, anchors)
            raise refused.error from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "syntax error"
        raise SceneError(path, line, "", f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise SceneError(path, None, "", f"YAML error: {exc}") from None
    finally:
        loader.dispose()


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SceneError(path, None, "", "file not found") from None
    except OSError as exc:
        raise SceneError(path, None, "", f"cannot read file: {exc.strerror}") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise SceneError(path, None, "", f"file is larger than {_MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SceneError(path, None, "", f"not UTF-8 text (byte {exc.start})") from None


class _RefusedError(Exception):
    """A problem with the data; reported once the rest of the file has parsed."""

    def __init__(self, error: SceneError) -> None:
        super().__init__(str(error))
        self.error = error


def _syntax(path: Path, event: Event, problem: str) -> SceneError:
    """What the composing loader reported for an anchor or document problem at ``event``."""
    return SceneError(path, event.start_mark.line + 1, "", f"YAML syntax error: {problem}")


def _build(  # one flat loop on purpose: it runs for every event of the file
    get_event: Callable[[], Event], path: Path, anchors: dict[str, Anchor]
) -> tuple[Any, Lines]:
    """Read one document from ``get_event`` into (data, lines), registering its anchors."""
    get_event()  # StreamStartEvent
    event = get_event()
    if type(event) is StreamEndEvent:
        return None, {}
    # DocumentStartEvent
    lines: Lines = {}
    scalars = _Scalars(path)
    values = scalars.values
    keys = scalars.keys
    count = 0
    stack: list[tuple[Any, tuple[str | int, ...], bool]] = []
    cont: Any = None  # the dict or list being filled; None at the root
    at: tuple[str | int, ...] = ()
    is_map = False
    key: str | None = None  # in a mapping: the key whose value comes next
    root: Any = None
    value: Any
    max_nodes, str_tag = MAX_NODES, _STR_TAG  # locals: read for every value
    scalar_event, alias_event = ScalarEvent, AliasEvent
    mapping_start, sequence_start = MappingStartEvent, SequenceStartEvent
    mapping_end, sequence_end = MappingEndEvent, SequenceEndEvent
    while True:
        event = get_event()
        kind = type(event)
        # 1. The event: a node (a scalar, the start of a list or mapping, an alias), or the end
        #    of a list or mapping. A node in a mapping with no key yet is that key.
        if kind is scalar_event:
            if event.anchor is not None:
                _anchor(anchors, path, event, event)
            if is_map and key is None:
                tag = event.tag
                if tag is None:
                    if event.implicit[0]:
                        key = keys.get(event.value)
                        if key is None:
                            key = scalars.plain_key(event)
                    else:
                        key = event.value
                elif tag == str_tag:
                    key = event.value
                else:
                    key = scalars.tagged_key(event)
                if key in cont:
                    raise _refused(path, event.start_mark.line + 1, _dotted(at + (key,)),
                                   "key appears twice")
                continue
            line = event.start_mark.line + 1
        elif kind is mapping_end or kind is sequence_end:
            cont, at, is_map = stack.pop()
            key = None
            if cont is None:
                break
            continue
        elif kind is mapping_start or kind is sequence_start:
            if event.anchor is not None:
                _anchor(anchors, path, event, None)
            line = event.start_mark.line + 1
            if is_map and key is None:
                raise _refused(path, line, "", _KEY_REFUSED)
        elif kind is alias_event:
            target = anchors.get(event.anchor)
            if target is None:
                raise _syntax(path, event, "found undefined alias")
            line, anchored = target  # an alias stands on its anchor's line
            if is_map and key is None:
                if anchored is None:
                    raise _refused(path, event.start_mark.line + 1, "", _KEY_REFUSED)
                key = scalars.key_of(anchored)
                if key in cont:
                    raise _refused(path, line, _dotted(at + (key,)), "key appears twice")
                continue
        else:  # pragma: no cover - the parser yields only node events inside a document
            raise yaml.YAMLError(f"unexpected YAML event {event!r}")
        # 2. A value: where it is, its line, and the budget of values.
        if is_map:
            here = at + (key,)
        elif cont is not None:
            here = at + (len(cont),)
        else:
            here = ()
        lines[here] = line
        count += 1
        if count > max_nodes:
            raise _refused(path, line, _dotted(here), f"more than {MAX_NODES} values in one file")
        # 3. What it holds: a new list or mapping is filled by the events that follow it.
        if kind is scalar_event:
            tag = event.tag
            if tag is None:
                if event.implicit[0]:
                    value = values.get(event.value, _MISSING)
                    if value is _MISSING:
                        value = scalars.plain_value(event, here)
                else:
                    value = event.value
            elif tag == str_tag:
                value = event.value
            else:
                value = scalars.tagged_value(event, here)
        elif kind is alias_event:
            if anchored is None:
                raise _refused(path, line, _dotted(here), _ALIAS_REFUSED)
            value = scalars.value_of(anchored, here)
        else:
            if len(here) >= MAX_DEPTH:
                raise _refused(path, line, _dotted(here), f"nested deeper than {MAX_DEPTH} levels")
            value = {} if kind is mapping_start else []
            if is_map:
                cont[key] = value
            elif cont is not None:
                cont.append(value)
            else:
                root = value
            stack.append((cont, at, is_map))
            cont, at, is_map, key = value, here, kind is mapping_start, None
            continue
        if is_map:
            cont[key] = value
            key = None
        elif cont is not None:
            cont.append(value)
        else:
            root = value
            break
    get_event()  # DocumentEndEvent
    _single_document(get_event, path)
    return root, lines


def _anchor(anchors: dict[str, Anchor], path: Path, event: Event, scalar: ScalarEvent | None
            ) -> None:
    """Register the anchor (``&name``) of a scalar, list or mapping; a second one is an error."""
    if event.anchor in anchors:
        raise _syntax(path, event, "second occurrence")
    anchors[event.anchor] = (event.start_mark.line + 1, scalar)


def _drain(get_event: Callable[[], Event], path: Path, anchors: dict[str, Anchor]) -> None:
    """Parse the rest of the file after a problem with the data: its syntax and anchor errors
    are the ones to report, as the composing loader found them before looking at the data."""
    while True:
        event = get_event()
        kind = type(event)
        if kind is AliasEvent:
            if event.anchor not in anchors:
                raise _syntax(path, event, "found undefined alias")
        elif kind is ScalarEvent or kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None:
                _anchor(anchors, path, event, None)
        elif kind is DocumentEndEvent:
            break
    _single_document(get_event, path)


def _single_document(get_event: Callable[[], Event], path: Path) -> None:
    event = get_event()
    if type(event) is not StreamEndEvent:
        raise _syntax(path, event, "but found another document")


def _refused(path: Path, line: int, key: str, message: str) -> _RefusedError:
    return _RefusedError(SceneError(path, line, key, message))


class _Scalars:
    """Resolves and constructs scalars as PyYAML's SafeLoader does, memoising plain values."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = {}
        """Plain (unquoted, untagged) scalar text -> its value."""
        self.keys: dict[str, str] = {}
        """Plain scalar text -> the key it makes (the value as a string)."""
        self._loader = yaml.SafeLoader("")
        self._resolvers = self._loader.yaml_implicit_resolvers
        self._wildcard = self._resolvers.get(None, [])

    def _implicit_tag(self, text: str) -> str | None:
        """The tag the implicit resolvers give plain ``text``, None for a string: the same
        resolvers (bool, int, float, null, ...) tried in the same order as ``resolve()``."""
        for tag, regexp in self._resolvers.get(text[0] if text else "", ()):
            if regexp.match(text):
                return tag
        for tag, regexp in self._wildcard:
            if regexp.match(text):
                return tag
        return None

    def plain_value(self, event: ScalarEvent, here: tuple[str | int, ...]) -> Any:
        text = event.value
        tag = self._implicit_tag(text)
        if tag is None:
            value = text
        elif tag == _INT_TAG and len(text) < 1000 and _DECIMAL_INT.fullmatch(text):
            value = int(text)  # what construct_yaml_int makes of it
        elif tag == _FLOAT_TAG and _DECIMAL_FLOAT.fullmatch(text):
            value = float(text)  # what construct_yaml_float makes of it
        else:
            value = self._value(event, here)
        self.values[text] = value
        return value

    def tagged_value(self, event: ScalarEvent, here: tuple[str | int, ...]) -> Any:
        return self._value(event, here)

    def value_of(self, event: ScalarEvent, here: tuple[str | int, ...]) -> Any:
        """The value of an anchored scalar, met again through an alias."""
        if event.tag == _STR_TAG or (event.tag is None and not event.implicit[0]):
            return event.value
        return self._value(event, here)

    def plain_key(self, event: ScalarEvent) -> str:
        key = event.value if self._implicit_tag(event.value) is None else self._key(event)
        self.keys[event.value] = key
        return key

    def tagged_key(self, event: ScalarEvent) -> str:
        return self._key(event)

    def key_of(self, event: ScalarEvent) -> str:
        """The key an anchored scalar makes, met again through an alias."""
        if event.tag == _STR_TAG or (event.tag is None and not event.implicit[0]):
            return event.value
        return self._key(event)

    def _value(self, event: ScalarEvent, here: tuple[str | int, ...]) -> Any:
        try:
            return self._construct(event)
        except _CONSTRUCT_ERRORS as exc:
            raise _refused(self.path, event.start_mark.line + 1, _dotted(here),
                           f"bad value: {exc}") from None

    def _key(self, event: ScalarEvent) -> str:
        try:
            key = self._construct(event)
        except _CONSTRUCT_ERRORS as exc:
            raise _refused(self.path, event.start_mark.line + 1, "", f"bad key: {exc}") from None
        return key if isinstance(key, str) else str(key)

    def _construct(self, event: ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._loader.resolve(ScalarNode, event.value, event.implicit)
        if tag == _STR_TAG:
            return event.value
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        return self._loader.construct_object(node, deep=True)


def _dotted(at: tuple[str | int, ...]) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def dotted(at: tuple[str | int, ...]) -> str:
    """Render a document path as ``entities[3].tank.diameter_m``."""
    return _dotted(at)
