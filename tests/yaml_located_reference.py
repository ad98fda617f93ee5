"""The compose-based located YAML loader that runtime.scene.yaml_located replaced, kept as the
reference the event-based loader is compared against in tests/test_yaml_located.py.

Verbatim but for the names: the limits, SceneError and Lines come from the runtime module so both
agree. Not used by the runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runtime.scene.errors import SceneError
from runtime.scene.yaml_located import MAX_DEPTH, MAX_NODES, Lines

_MAX_FILE_BYTES = 16 * 1024 * 1024
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: same marks, several times faster."""
_STR_TAG = "tag:yaml.org,2002:str"


def reference_load_located(path: Path) -> tuple[Any, Lines]:
    """Parse ``path`` and return (data, lines). Raises SceneError for unreadable or bad YAML."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SceneError(path, None, "", "file not found") from None
    except OSError as exc:
        raise SceneError(path, None, "", f"cannot read file: {exc.strerror}") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise SceneError(path, None, "", f"file is larger than {_MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SceneError(path, None, "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "syntax error"
        raise SceneError(path, line, "", f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise SceneError(path, None, "", f"YAML error: {exc}") from None
    except RecursionError:
        raise SceneError(path, None, "", f"nested deeper than {MAX_DEPTH} levels") from None
    lines: Lines = {}
    if node is None:
        return None, lines
    constructor = yaml.SafeLoader("")
    return _convert(node, (), lines, constructor, path, _Budget()), lines


class _Budget:
    """What one document may still hold, and the collections already seen (aliases)."""

    __slots__ = ("nodes", "seen")

    def __init__(self) -> None:
        self.nodes = MAX_NODES
        self.seen: set[int] = set()


def _convert(
    node: yaml.Node,
    at: tuple[str | int, ...],
    lines: Lines,
    constructor: yaml.SafeLoader,
    path: Path,
    budget: _Budget,
) -> Any:
    line = node.start_mark.line + 1
    lines[at] = line
    budget.nodes -= 1
    if budget.nodes < 0:
        raise SceneError(path, line, _dotted(at), f"more than {MAX_NODES} values in one file")
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        if id(node) in budget.seen:
            raise SceneError(path, line, _dotted(at), "YAML aliases (*name) to lists or "
                             "mappings are not allowed in scene files: write the value out")
        budget.seen.add(id(node))
        if len(at) >= MAX_DEPTH:
            raise SceneError(path, line, _dotted(at), f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            try:
                key = (key_node.value if key_node.tag == _STR_TAG
                       else constructor.construct_object(key_node, deep=True))
            except yaml.YAMLError as exc:
                raise SceneError(
                    path, key_node.start_mark.line + 1, "", f"bad key: {exc}"
                ) from None
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise SceneError(
                    path, key_node.start_mark.line + 1, _dotted(at + (key,)), "key appears twice"
                )
            lines[at + (key,)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, at + (key,), lines, constructor, path, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(child, at + (i,), lines, constructor, path, budget)
            for i, child in enumerate(node.value)
        ]
    if node.tag == _STR_TAG:  # most scalars: what SafeConstructor would return, 3x sooner
        return node.value
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise SceneError(path, node.start_mark.line + 1, _dotted(at), f"bad value: {exc}") from None


def _dotted(at: tuple[str | int, ...]) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out

