"""The event-based located YAML loader against the compose-based one it replaced.

Random YAML documents (block and flow maps and lists, YAML 1.1 scalars that resolve to booleans,
ints, floats, nulls and dates, quoted and multi-line scalars, explicit tags, anchors, aliases,
stray syntax) load to exactly the same data and lines, or fail with exactly the same message,
as tests/yaml_located_reference.py. Where the old loader let a ValueError through as a traceback
(``2024-02-30``, ``0x_``), the new one must say "bad value"/"bad key" at the same line instead.
Hostile files stay bounded.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml_located_reference as reference
from conftest import REPO_ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml_located_reference import reference_load_located

import runtime.scene.yaml_located as located
from runtime.scene.errors import SceneError
from runtime.scene.yaml_located import MAX_NODES, load_located

# --- the random documents --------------------------------------------------------------------

_PLAIN = [
    "abc", "a b", "TS-00001/level_m", "m3/h", "yes", "No", "ON", "off", "y", "n", "true", "FALSE",
    "~", "null", "Null", "NULL", "0", "-1", "+12", "017", "0o17", "0x1f", "0b101", "1_000",
    "1e3", "1.5", "1.5e+3", "-2.5E-2", "3.", ".5", "._", ".inf", "-.Inf", ".nan", "1:30",
    "190:20:30.15", "2024-05-01", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10",
    "a#b", "é", "P-101", "0.1", "100", "float32", "kPa", "019", "00", "12345", "\u0663", "\u00b2",
    "1" * 999, "_1", "-0", "Yes", "t", "O", "e",
]
_QUOTED = ["'yes'", '"0x1f"', "''", '""', "'~'", '"a\\tb"', "'it''s'", '"\\u00e9"', "'2024-05-01'",
           '"1e3"', "'multi word'"]
_TAGGED = ["!!str 12", '!!int "7"', "!!int 0x1f", "!!float 1", "!!bool yes", "!!null ''",
           "!!binary aGVsbG8=", "!!timestamp 2024-01-01", "! 12", "! '12'"]
_BAD = ["!!python/name:os.system ''", "!!python/object/apply:os.system ['x']", "!foo x",
        "!!map x", "!!seq x", "!!set x", "!!omap x", "0x_", "2024-02-30", "1" * 5000, "<<", "="]
"""Scalars the SafeLoader refuses (the last five were tracebacks in the old loader)."""
_KEYS = ["a", "b", "id", "1", "yes", "~", "1.0", "'a'", '"1"', "0x1", "2024-05-01", "!!str b",
         "!!int 3"]
_BAD_KEYS = ["<<", "!!python/name:os.system x", "2024-02-30", "!!float x"]
_NOISE = ["]", "- : -", "a: b: c", "\t- x", "---", "...", "%YAML 1.1", "? x", "'open", "&x",
          "*", "{", "key: [1, 2", "  - x", "x: |\n  y\n z", ": x", "%"]


def _mostly(common: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """``common`` 49 times in 50."""
    return st.integers(0, 49).flatmap(lambda i: rare if i == 17 else common)  # not an end:
    # hypothesis draws the ends of a range more often


_anchor = st.sampled_from([None] * 75 + [0] * 24 + [9])
"""None: no anchor; 0: a new name; 9: the name of an earlier anchor again (a duplicate)."""
_scalar_text = _mostly(st.one_of(st.sampled_from(_PLAIN), st.sampled_from(_PLAIN),
                                 st.sampled_from(_QUOTED), st.sampled_from(_TAGGED),
                                 st.text(max_size=6).map(repr)), st.sampled_from(_BAD))
_key = _mostly(st.one_of(st.tuples(st.just("fresh"), st.text("abcdefghij_", max_size=4)),
                         st.tuples(st.just("fresh"), st.text("abcdefghij_", max_size=4)),
                         st.sampled_from(_KEYS),
                         st.tuples(st.just("alias"), st.integers(0, 99)),
                         st.tuples(st.just("anchor"), st.sampled_from(_KEYS))),
               st.sampled_from(_BAD_KEYS))
"""Mostly keys not used before (a few of them would make most mappings repeat a key)."""


@st.composite
def _tree(draw: st.DrawFn, depth: int = 0) -> tuple:
    """('scalar', text, anchor) | ('alias', 'a' or 'c', pick) |
    ('multiline', style, words, anchor) | ('map', [(key, node)], anchor, flow) |
    ('seq', [node], anchor, flow)"""
    if draw(st.integers(0, 99)) < (100, 50, 40, 25, 10, 0)[min(depth, 5)]:
        anchor = draw(_anchor)
        flow = draw(st.integers(0, 3)) == 0
        if draw(st.booleans()):
            keys = draw(st.lists(_key, max_size=6))
            return ("map", [(k, draw(_tree(depth + 1))) for k in keys], anchor, flow)
        return ("seq", draw(st.lists(_tree(depth + 1), max_size=6)), anchor, flow)
    choice = draw(st.integers(0, 99))
    if choice < 12:
        return ("alias", draw(st.sampled_from("aaaaac")), draw(st.integers(0, 99)))
    if choice < 20:
        words = draw(st.lists(st.sampled_from(["one", "two  words", "yes", "", "  deeper"]),
                              min_size=1, max_size=3))
        return ("multiline", draw(st.sampled_from(["|", ">", "|-", ">+", "plain", "dq"])),
                ["w" if i == 0 and not w[:1].strip() else w for i, w in enumerate(words)],
                draw(_anchor))
    return ("scalar", draw(_scalar_text), draw(_anchor))


class _Render:
    """A tree as YAML text. Anchors of scalars (a0, a1, ...) and of lists and mappings (c0, ...)
    are named apart so that an alias used as a key only points at a scalar: the old loader
    turned a list used as a key into a string, the new one refuses it (see
    test_collection_keys_are_refused). Aliases name an anchor already written, or (1 in 50) one
    that is not."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {"a": [], "c": []}
        self.keys = 0

    def document(self, root: tuple) -> str:
        if root[0] in ("map", "seq") and root[1] and not root[3]:
            props = self._props("c", root[2])
            return (f"{props}\n" if props else "") + self._block_lines(root, 0)
        return self._block(root, 0).lstrip()

    def _props(self, kind: str, anchor: int | None) -> str:
        if anchor is None:
            return ""
        names = self.names[kind]
        if anchor == 9 and names:
            return f"&{names[0]} "
        names.append(f"{kind}{len(names)}")
        return f"&{names[-1]} "

    def _alias(self, kind: str, pick: int) -> str:
        names = self.names[kind] or (self.names["a"] if kind == "c" else [])
        if pick >= 98:
            return f"*{kind}99"
        return f"*{names[pick % len(names)]}" if names else f"p{pick}"

    def _key(self, key: str | tuple) -> str:
        if isinstance(key, str):
            return key
        if key[0] == "fresh":
            self.keys += 1
            return f"{key[1]}k{self.keys}"
        if key[0] == "alias":
            return self._alias("a", key[1]) + " "  # '*a0:' would name the anchor 'a0:'
        return self._props("a", 0) + key[1]

    def _flow(self, node: tuple) -> str:
        kind = node[0]
        if kind == "scalar":  # "!!python/object/apply:os.system ['x']" is a list: a "c" anchor
            return self._props("c" if node[1].endswith("]") else "a", node[2]) + node[1]
        if kind == "alias":
            return self._alias(node[1], node[2])
        if kind == "multiline":
            return self._props("a", node[3]) + repr(" ".join(node[2]))
        props = self._props("c", node[2])
        if kind == "map":
            return props + "{" + ", ".join(
                f"{self._key(k)}: {self._flow(v)}" for k, v in node[1]) + "}"
        return props + "[" + ", ".join(self._flow(v) for v in node[1]) + "]"

    def _block(self, node: tuple, indent: int) -> str:
        """The node as the text after 'key:' or '-' (starting with a space or a newline)."""
        pad = " " * indent
        kind = node[0]
        if kind == "multiline":
            style, words, props = node[1], node[2], self._props("a", node[3])
            if style in ("plain", "dq"):
                first, *rest = [w.strip() or "w" for w in words]
                quote = '"' if style == "dq" else ""
                body = "".join(f"\n{pad}  {w}" for w in rest)
                return f" {props}{quote}{first}{body}{quote}"
            return f" {props}{style}" + "".join(f"\n{pad}  {w}" for w in words)
        if kind in ("map", "seq") and node[1] and not node[3]:
            props = f" {self._props('c', node[2])}".rstrip()
            return props + "\n" + self._block_lines(node, indent + 2)
        return " " + self._flow(node)

    def _block_lines(self, node: tuple, indent: int) -> str:
        pad = " " * indent
        if node[0] == "map":
            return "\n".join(f"{pad}{self._key(k)}:{self._block(v, indent)}"
                             for k, v in node[1])
        return "\n".join(f"{pad}-{self._block(v, indent)}" for v in node[1])


@st.composite
def _documents(draw: st.DrawFn) -> str:
    lines = _Render().document(draw(_tree())).split("\n")
    if draw(st.integers(0, 9)) == 4:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(_NOISE)))
    return "\n".join(lines) + "\n"


# --- comparing the two loaders ----------------------------------------------------------------

def _canonical(value: Any) -> Any:
    """Data with its types spelled out (True == 1 == 1.0 in Python) and NaN comparable."""
    if isinstance(value, dict):
        return ("dict", [(k, _canonical(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_canonical(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def _outcome(load: Any, path: Path) -> tuple[str, Any]:
    try:
        data, lines = load(path)
    except SceneError as exc:
        return "refused", str(exc)
    except ValueError as exc:  # the old loader's tracebacks
        return "traceback", str(exc)
    return "loaded", (_canonical(data), lines)


@contextmanager
def _limits(nodes: int, depth: int) -> Iterator[None]:
    saved = [(m, m.MAX_NODES, m.MAX_DEPTH) for m in (located, reference)]
    for module in (located, reference):
        module.MAX_NODES, module.MAX_DEPTH = nodes, depth
    try:
        yield
    finally:
        for module, n, d in saved:
            module.MAX_NODES, module.MAX_DEPTH = n, d


def _assert_same(text: str, nodes: int = MAX_NODES, depth: int = located.MAX_DEPTH) -> str:
    with tempfile.TemporaryDirectory() as folder, _limits(nodes, depth):
        path = Path(folder) / "doc.yaml"
        path.write_text(text, encoding="utf-8")
        old = _outcome(reference_load_located, path)
        new = _outcome(load_located, path)
    if old[0] == "traceback":
        assert new[0] == "refused" and old[1] in new[1], (text, old, new)
        assert "bad value: " in new[1] or "bad key: " in new[1], (text, new)
    else:
        assert new == old, text
    return new[0]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents(), st.sampled_from([(MAX_NODES, 32), (MAX_NODES, 32), (12, 32), (MAX_NODES, 3)]))
def test_random_documents_load_as_the_composing_loader_did(
        text: str, limits: tuple[int, int]) -> None:
    _assert_same(text, *limits)


def test_the_random_documents_mostly_load() -> None:
    """The comparison above is worth little if nearly every document is a syntax error."""
    outcomes: list[str] = []

    @settings(max_examples=150, deadline=None, database=None)
    @given(_documents())
    def collect(text: str) -> None:
        outcomes.append(_assert_same(text))

    collect()
    assert outcomes.count("loaded") > len(outcomes) // 4, outcomes


@pytest.mark.parametrize("text", [
    "", "# only a comment\n", "---\n", "--- 3\n", "...\n", "a: 1\n---\nb: 2\n", "- 1\n--- [\n",
    "yes\n", "!!python/name:os.system ''\n", "&a [*a]\n", "a: *x\n", "a: &x 1\nb: &x 2\n",
    "a: &x 1\nb: *x\nc: *x\n", "&r {a: 1}\n", "a: 1\na: 2\nb: [\n", "a: 1\na: 2\nb: *nope\n",
    "a: 1\na: 2\n---\n", "a: 2024-02-30\nb: &x 1\nc: &x 2\n", "&k k: 1\n*k : 2\n",
    "&k 1: a\nb: *k\n", "a: &v 0x1f\nb: *v\n", "a:\n  - b: &c\n      d: 1\n  - *c\n",
    "x: " + "[" * 40 + "]" * 40 + "\n", "x: " + "[" * 2000 + "]" * 2000 + "\n",
    "a: \x07\n", "%YAML 1.1\n---\na: 1\n", "a: !!binary aGVsbG8=\n", "? a\n? b\n",
    "a: |\n  one\n  two\nb: >-\n  three\n  four\n", "a: 1\n\tb: 2\n",
])
def test_fixed_documents_load_as_the_composing_loader_did(text: str) -> None:
    _assert_same(text)


@pytest.mark.parametrize("path", sorted(
    p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.glob("scenes/**/*.yaml")))
def test_shipped_files_load_as_the_composing_loader_did(path: str) -> None:
    text = (REPO_ROOT / path).read_text(encoding="utf-8")
    assert _assert_same(text) == "loaded"


def test_a_generated_plant_loads_as_the_composing_loader_did(tmp_path: Path) -> None:
    from runtime.scene.generated import write_generated_plant

    write_generated_plant(tmp_path, 0, devices=4, points_per_device=30)
    for name in ("scene.yaml", "devices.yaml"):
        assert _assert_same((tmp_path / name).read_text(encoding="utf-8")) == "loaded"


# --- what the new loader refuses that the old one took ---------------------------------------

@pytest.mark.parametrize("text, line", [
    ("? [1, 2]\n: x\n", 1),
    ("a: 1\n? {b: 1}\n: x\n", 2),
    ("a: &l [1]\n*l : x\n", 2),
])
def test_collection_keys_are_refused(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(SceneError, match="a list or mapping cannot be a key") as caught:
        load_located(path)
    assert caught.value.line == line


# --- hostile files -----------------------------------------------------------------------------

def _laughs(levels: int, as_keys: bool) -> str:
    """Each level nine aliases of the one before: 9**levels strings from a few hundred bytes."""
    out = ["? &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n: 0\n" if as_keys
           else "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    for i in range(1, levels):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        out.append(f"? &l{i} [{refs}]\n: {i}\n" if as_keys else f"l{i}: &l{i} [{refs}]\n")
    return "".join(out)


@pytest.mark.parametrize("as_keys, problem", [
    (False, "aliases"),
    (True, "cannot be a key"),  # the old loader turned these keys into strings: 9**12 of them
])
def test_billion_laughs_is_refused_at_once(tmp_path: Path, as_keys: bool, problem: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(_laughs(12, as_keys))
    t0 = time.monotonic()
    with pytest.raises(SceneError, match=problem):
        load_located(path)
    assert time.monotonic() - t0 < 30, "a bomb must not be expanded"


@pytest.mark.parametrize("levels, problem", [
    (33, "nested deeper than 32 levels"),
    (999, "nested deeper than 32 levels"),
    (200_000, "exceeded maximum nesting depth"),  # libyaml's own limit, before our count
])
def test_deep_nesting_is_refused(tmp_path: Path, levels: int, problem: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("x: " + "[" * levels + "]" * levels + "\n")
    with pytest.raises(SceneError, match=problem) as caught:
        load_located(path)
    assert caught.value.line == 1


def test_more_values_than_the_budget_are_refused_by_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb:\n" + "".join(f"  - {i}\n" for i in range(40)))
    with _limits(20, 32), pytest.raises(SceneError, match="more than 20 values") as caught:
        load_located(path)
    assert (caught.value.line, caught.value.key) == (20, "b[17]")


def test_files_over_16_mib_are_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a: " + b"x" * (16 * 1024 * 1024) + b"\n")
    with pytest.raises(SceneError, match="larger than"):
        load_located(path)


@pytest.mark.soak
def test_two_million_values_are_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("[" + "1," * MAX_NODES + "1]\n")
    with pytest.raises(SceneError, match=f"more than {MAX_NODES} values") as caught:
        load_located(path)
    assert caught.value.key == f"[{MAX_NODES - 1}]"
