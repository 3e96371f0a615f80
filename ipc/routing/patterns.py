"""Source patterns and the index that matches an address against all routes at once.

Pattern syntax, segment-wise on ``.``:

- ``*`` matches exactly one segment (any text without a dot, never empty);
- ``**`` matches any number of segments, INCLUDING ZERO: ``plc_001.**.fTemp`` matches
  ``plc_001.fTemp`` and ``plc_001.MAIN.sub.fTemp``; ``plc_001.**`` matches every datapoint of
  ``plc_001`` (and the bare id ``plc_001``);
- any other segment matches itself; partial wildcards such as ``temp*`` are refused.

Exact addresses live in a dict (O(1)); all patterns are compiled once into one segment trie,
so a lookup costs O(segments x live trie branches), independent of the number of routes.
"""

from __future__ import annotations

from collections.abc import Iterable

STAR = "*"
GLOBSTAR = "**"


def is_pattern(text: str) -> bool:
    """True if ``text`` has a wildcard segment (and so is not an exact address)."""
    return "*" in text


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a well-formed pattern, or None."""
    if any(ch.isspace() for ch in pattern):
        return f"pattern '{pattern}' contains whitespace"
    for segment in pattern.split("."):
        if not segment:
            return f"pattern '{pattern}' has an empty segment"
        if "*" in segment and segment not in (STAR, GLOBSTAR):
            return (
                f"pattern '{pattern}': segment '{segment}' mixes '*' with text; "
                "'*' and '**' must stand alone between dots"
            )
    return None


def literal_prefix(pattern: str) -> str:
    """The segments before the first wildcard, joined (empty when the pattern starts with one)."""
    head: list[str] = []
    for segment in pattern.split("."):
        if "*" in segment:
            break
        head.append(segment)
    return ".".join(head)


class _Node:
    """A trie node: the set of pattern prefixes that end here."""

    __slots__ = ("children", "globstar", "is_globstar", "star", "terminal")

    def __init__(self, is_globstar: bool = False) -> None:
        self.children: dict[str, _Node] = {}
        self.star: _Node | None = None
        self.globstar: _Node | None = None
        self.is_globstar = is_globstar
        self.terminal: list[int] = []


class PatternIndex:
    """All routes' sources, exact and wildcard, keyed to route numbers (their order in the file)."""

    __slots__ = ("_exact", "_root")

    def __init__(self, sources: Iterable[tuple[int, str]]) -> None:
        self._exact: dict[str, list[int]] = {}
        self._root = _Node()
        for number, source in sources:
            if is_pattern(source):
                self._insert(number, source)
            else:
                self._exact.setdefault(source, []).append(number)

    def _insert(self, number: int, pattern: str) -> None:
        node = self._root
        for segment in pattern.split("."):
            if segment == GLOBSTAR:
                if node.globstar is None:
                    node.globstar = _Node(is_globstar=True)
                node = node.globstar
            elif segment == STAR:
                if node.star is None:
                    node.star = _Node()
                node = node.star
            else:
                node = node.children.setdefault(segment, _Node())
        node.terminal.append(number)

    def match(self, address: str) -> list[int]:
        """Numbers of every route whose source matches ``address``, ascending."""
        found = list(self._exact.get(address, ()))
        states = _closure([self._root])
        for segment in address.split("."):
            following: list[_Node] = []
            for node in states:
                child = node.children.get(segment)
                if child is not None:
                    following.append(child)
                if node.star is not None:
                    following.append(node.star)
                if node.is_globstar:
                    following.append(node)
            if not following:
                break
            states = _closure(following)
        else:
            for node in states:
                found.extend(node.terminal)
        found.sort()
        return found


def _closure(nodes: list[_Node]) -> list[_Node]:
    """``nodes`` plus every ``**`` reachable without consuming a segment, without repeats."""
    seen: dict[int, _Node] = {}
    pending = list(nodes)
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        if node.globstar is not None:
            pending.append(node.globstar)
    return list(seen.values())
