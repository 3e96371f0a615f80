"""Loading routing.json: schema check, semantic checks, compiled routes and their index.

Every problem found is collected (not only the first) and raised together as RoutingError;
each message names the file, the route and the reason, e.g.
``routing.json: route 'bms_to_plc': transform 'scael(0.001)': unknown transform 'scael'``.
A cycle among exact routes is legal (the router stops looping values) but is reported in
``RouteTable.warnings``.
"""

from __future__ import annotations

import copy
import importlib.resources
import itertools
import json
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeos.common.capacity import size_problem
from edgeos.common.schemas import bounded, oversized

from .addresses import AddressResolver, address_problem
from .expressions import Expression, ExpressionError, compile_expression
from .patterns import PatternIndex, is_pattern, literal_prefix, pattern_problem
from .schedule import Schedule, ScheduleError, parse_schedule
from .transforms import Transform, TransformError, parse_transform

if TYPE_CHECKING:  # imported when a document is validated (about 5 MB)
    import jsonschema
    from jsonschema.exceptions import ValidationError

log = logging.getLogger(__name__)

NO_ROUTES: dict[str, Any] = {"routes": []}  # valid by construction: needs no schema check
_SCHEMA_NAME = "routing.schema.json"


class RoutingError(Exception):
    """routing.json was refused; ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, eq=False, slots=True)
class Route:
    """One compiled route. ``source`` is the ``from`` of routing.json (a keyword in Python)."""

    id: str
    source: str
    targets: tuple[str, ...]
    transforms: tuple[Transform, ...]
    condition: Expression | None
    schedule: Schedule | None
    bidirectional: bool
    enabled: bool
    description: str
    inverse: tuple[Callable[[Any], Any], ...]
    """Undo steps for commands flowing back, already in reverse order (bidirectional only)."""
    fingerprint: str
    """The definition as canonical JSON (without description): equal means same behaviour."""

    # Derived once, read per datapoint by the router.
    is_pattern: bool = field(init=False)
    simple: bool = field(init=False)
    """Nothing to evaluate: the value goes to the targets as it is."""
    stateful: bool = field(init=False)
    uses_clock: bool = field(init=False)

    def __post_init__(self) -> None:
        derived = {
            "is_pattern": is_pattern(self.source),
            "simple": not self.transforms and self.condition is None and self.schedule is None,
            "stateful": any(step.stateful for step in self.transforms),
            "uses_clock": self.schedule is not None
            or any(step.uses_clock for step in self.transforms),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)


class RouteTable:
    """A validated, immutable set of routes with the indexes the router matches against."""

    def __init__(
        self, source: str, routes: list[Route], warnings: list[str], doc: dict[str, Any]
    ) -> None:
        self.source = source
        self.routes = routes
        self.warnings = warnings
        self._doc = doc
        self._index = PatternIndex((number, route.source) for number, route in enumerate(routes))
        self._reverse: dict[str, list[Route]] = {}
        for route in routes:
            if route.bidirectional:
                for target in route.targets:
                    self._reverse.setdefault(target, []).append(route)

    def to_doc(self) -> dict[str, Any]:
        """A copy of the validated document, as it was given."""
        return copy.deepcopy(self._doc)

    def forward_candidates(self, address: str) -> list[Route]:
        """Routes (enabled or not) whose ``from`` matches ``address``, in file order."""
        return [self.routes[number] for number in self._index.match(address)]

    def reverse_candidates(self, address: str) -> list[Route]:
        """Bidirectional routes (enabled or not) with ``address`` among their targets."""
        return list(self._reverse.get(address, ()))


# ---- loading -------------------------------------------------------------------------------


def load_routing_file(path: Path, *, instance_ids: Collection[str]) -> RouteTable:
    """Read and load ``path``; a missing file is an empty table."""
    source = str(path)
    too_big = size_problem(Path(path))
    if too_big:
        raise RoutingError([f"{source}: {too_big.split(': ', 1)[1]}"])
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        log.info("%s does not exist; no routes", source)
        return load_routing(dict(NO_ROUTES, routes=[]), source=source,
                            instance_ids=instance_ids)
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingError([f"{source}: cannot read: {exc}"]) from exc
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise RoutingError([f"{source}: line {exc.lineno}, column {exc.colno}: {exc.msg}"]) from exc
    except _DuplicateKey as exc:
        raise RoutingError([f"{source}: {exc}"]) from exc
    return load_routing(doc, source=source, instance_ids=instance_ids)


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json hook: a repeated key would silently drop the first value, so refuse it."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"key '{key}' appears twice in one object")
        result[key] = value
    return result


def load_routing(doc: Any, *, source: str, instance_ids: Collection[str]) -> RouteTable:
    """Validate and compile a routing document; RoutingError lists every problem."""
    too_long = oversized(doc)
    if too_long:  # refused before anything looks at (or quotes) the huge value
        raise RoutingError([f"{source}: {line}" for line in too_long])
    schema_errors = [] if doc == NO_ROUTES else sorted(
        _validator().iter_errors(doc), key=lambda error: list(error.path))
    if not isinstance(doc, dict) or not isinstance(doc.get("routes"), list):
        raise RoutingError([_schema_message(source, doc, error) for error in schema_errors])
    specs: list[Any] = doc["routes"]
    errors: list[str] = []
    broken: dict[int, set[str]] = {}  # route number -> keys the schema refused ("" = all)
    for error in schema_errors:
        errors.append(_schema_message(source, doc, error))
        path = list(error.path)
        if error.validator == "additionalProperties":
            continue  # unknown keys do not spoil the checks of the known ones
        if len(path) >= 2 and path[0] == "routes":
            broken.setdefault(path[1], set()).add(path[2] if len(path) > 2 else "")
    resolver = AddressResolver(instance_ids)
    routes: list[Route] = []
    for number, spec in enumerate(specs):
        refused = broken.get(number, set())
        if "" in refused:
            continue  # not an object, or id/from/to missing: nothing sensible to check
        label = _route_label(source, spec, number)
        route, problems = _compile_route(spec, resolver, refused)
        errors.extend(f"{label}: {problem}" for problem in problems)
        if route is not None:
            routes.append(route)
    errors.extend(_duplicate_ids(source, specs))
    if errors:
        raise RoutingError(errors)
    return RouteTable(source, routes, _cycle_warnings(source, routes), copy.deepcopy(doc))


def _route_label(source: str, spec: Any, number: int) -> str:
    """``routing.json: route 'id'``, or the route's position when it has no usable id."""
    route_id = spec.get("id") if isinstance(spec, dict) else None
    if isinstance(route_id, str) and route_id:
        return f"{source}: route '{route_id}'"
    return f"{source}: route #{number + 1}"


def _duplicate_ids(source: str, specs: list[Any]) -> list[str]:
    counts: dict[str, int] = {}
    for spec in specs:
        if isinstance(spec, dict) and isinstance(spec.get("id"), str):
            counts[spec["id"]] = counts.get(spec["id"], 0) + 1
    return [
        f"{source}: route '{route_id}': id used by {count} routes"
        for route_id, count in counts.items()
        if count > 1
    ]


def _compile_route(
    spec: dict[str, Any], resolver: AddressResolver, refused: set[str]
) -> tuple[Route | None, list[str]]:
    """The compiled route, or None and its problems; keys in ``refused`` failed the schema."""
    problems: list[str] = []
    source: str = spec["from"]
    if "from" not in refused:
        problems.extend(_source_problems(source, resolver))
    targets: tuple[str, ...] = ()
    if "to" not in refused:
        targets = (spec["to"],) if isinstance(spec["to"], str) else tuple(spec["to"])
    for target in targets:
        problem = _address_problem(target, resolver)
        if problem:
            problems.append(f"to '{target}': {problem}")

    texts = spec.get("transform", []) if "transform" not in refused else []
    transforms: list[Transform] = []
    for text in [texts] if isinstance(texts, str) else texts:
        try:
            transforms.append(parse_transform(text))
        except TransformError as exc:
            problems.append(f"transform '{text}': {exc}")

    condition = _parsed(spec, "condition", refused, compile_expression, ExpressionError,
                        problems, f"condition '{spec.get('condition')}'")
    for address in condition.dp_addresses if condition is not None else ():
        problem = _address_problem(address, resolver)
        if problem:
            problems.append(f"condition '{condition.text}': dp('{address}'): {problem}")

    schedule = _parsed(spec, "schedule", refused, parse_schedule, ScheduleError, problems,
                       "schedule")

    bidirectional = spec.get("bidirectional", False) is True
    inverse: list[Callable[[Any], Any]] = []
    if bidirectional:
        if "from" not in refused and is_pattern(source):
            problems.append(f"bidirectional: 'from' must be an exact address, not '{source}'")
        for step in transforms:
            try:
                inverse.append(step.inverse())
            except TransformError as exc:
                problems.append(f"bidirectional: transform '{step.text}': {exc}")
    if problems or refused:
        return None, problems
    route = Route(
        id=spec["id"],
        source=source,
        targets=targets,
        transforms=tuple(transforms),
        condition=condition,
        schedule=schedule,
        bidirectional=bidirectional,
        enabled=spec.get("enabled", True),
        description=spec.get("description", ""),
        inverse=tuple(reversed(inverse)),
        fingerprint=_fingerprint(spec),
    )
    return route, []


def _fingerprint(spec: dict[str, Any]) -> str:
    normal = {key: value for key, value in spec.items() if key != "description"}
    for key in ("to", "transform"):
        if isinstance(normal.get(key), str):
            normal[key] = [normal[key]]
    normal.setdefault("transform", [])
    normal.setdefault("enabled", True)
    normal.setdefault("bidirectional", False)
    return json.dumps(normal, sort_keys=True, separators=(",", ":"))


def _parsed(spec: dict[str, Any], key: str, refused: set[str], parse: Callable[[Any], Any],
            error: type[Exception], problems: list[str], label: str) -> Any:
    """``parse(spec[key])``, or None when the key is absent or already refused; a parse
    error becomes a problem named ``label``."""
    if key not in spec or key in refused:
        return None
    try:
        return parse(spec[key])
    except error as exc:
        problems.append(f"{label}: {exc}")
        return None


def _address_problem(address: str, resolver: AddressResolver) -> str | None:
    problem = address_problem(address)
    if problem:
        return problem
    if resolver.resolve(address) is None:
        return f"no configured instance owns '{address}'"
    return None


def _source_problems(source: str, resolver: AddressResolver) -> list[str]:
    if not is_pattern(source):
        problem = _address_problem(source, resolver)
        return [f"from '{source}': {problem}"] if problem else []
    problem = pattern_problem(source)
    if problem:
        return [f"from: {problem}"]
    prefix = literal_prefix(source)
    if prefix and resolver.resolve(prefix) is None and not resolver.is_instance_prefix(prefix):
        return [f"from '{source}': no configured instance matches '{prefix}'"]
    return []


# ---- schema --------------------------------------------------------------------------------


def routing_schema() -> dict[str, Any]:
    """The JSON Schema of routing.json (config/schemas/routing.schema.json)."""
    return copy.deepcopy(_schema_doc())


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(bounded(_schema_doc()))


@cache
def _schema_doc() -> dict[str, Any]:
    in_tree = Path(__file__).resolve().parents[2] / "config" / "schemas" / _SCHEMA_NAME
    if in_tree.is_file():
        text = in_tree.read_text(encoding="utf-8")
    else:  # installed: config/ is the edgeos.config package
        text = (importlib.resources.files("edgeos.config") / "schemas" / _SCHEMA_NAME).read_text(
            encoding="utf-8"
        )
    return json.loads(text)


def _schema_message(source: str, doc: Any, error: ValidationError) -> str:
    error = _most_specific(error)
    path = list(error.absolute_path)
    label = source
    if len(path) >= 2 and path[0] == "routes":
        label = _route_label(source, doc["routes"][path[1]], path[1])
        path = path[2:]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    where = where.lstrip(".")
    return f"{label}: {where + ': ' if where else ''}{_clip(_schema_reason(error))}"


def _clip(reason: str, limit: int = 300) -> str:
    """jsonschema quotes the offending value whole: a 3 M entry map made a 50 MB line."""
    return reason if len(reason) <= limit else f"{reason[:limit]}... ({len(reason)} chars)"


def _most_specific(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, the failure of the branch meant for this kind of value.

    A string ``to`` that fails its pattern would otherwise be reported as "not an array".
    """
    from jsonschema.exceptions import best_match

    while error.context:
        fitting = [
            branch
            for branch in error.context
            if not (branch.validator == "type" and not branch.relative_path)
        ]
        error = best_match(fitting or error.context)
    return error


def _schema_reason(error: ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        unknown = sorted(key for key in error.instance if key not in known)
        return f"unknown key(s) {', '.join(repr(key) for key in unknown)}"
    if error.validator == "pattern" and "description" in error.schema:
        return f"{error.instance!r} is not valid: {error.schema['description']}"
    return error.message


# ---- cycles --------------------------------------------------------------------------------


def _cycle_warnings(source: str, routes: Iterable[Route]) -> list[str]:
    """One warning per cycle among enabled exact routes (forward direction)."""
    edges: dict[str, dict[str, str]] = {}  # from -> {to: route id}
    for route in routes:
        if route.enabled and not route.is_pattern:
            for target in route.targets:
                edges.setdefault(route.source, {}).setdefault(target, route.id)
    warnings = []
    for component in _strongly_connected(edges):
        members = set(component)
        start = min(members)
        if len(members) == 1 and start not in edges.get(start, {}):
            continue
        path = _cycle_through(start, members, edges)
        ids = sorted({edges[a][b] for a, b in itertools.pairwise(path)})
        warnings.append(
            f"{source}: routes {', '.join(repr(i) for i in ids)} form a cycle: "
            f"{' -> '.join(path)}; the router stops values that come back to their origin"
        )
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def _strongly_connected(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (route files can be long chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def _cycle_through(start: str, members: set[str], edges: dict[str, dict[str, str]]) -> list[str]:
    """A shortest path start -> ... -> start inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges.get(node, {})):
                if child == start:
                    path = [start]
                    while node != start:
                        path.append(node)
                        node = previous[node]
                    path.append(start)
                    return path[::-1]
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start, start]
