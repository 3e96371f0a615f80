"""Datapoint addresses: ``<instance-id>.<path>``, where instance ids may themselves contain dots.

The instance of an address is the LONGEST configured instance id that is followed by a dot
(``bt.bms_001.voltage`` -> ``bt.bms_001`` + ``voltage`` even if ``bt`` is an instance too).
An address equal to an instance id names the instance itself with an empty path; targets like
``webhook.alert_service`` are written that way.
"""

from __future__ import annotations

from collections.abc import Collection

BUILTIN_INSTANCES = frozenset({"log"})
"""Instances that exist without a connection entry: ``log.<channel>`` writes to the system log."""

CACHE_LIMIT = 100_000
"""Cached addresses per resolver; the cache is cleared when full (addresses such as MQTT topics
are not bounded, memory must be)."""


def resolve(address: str, instance_ids: Collection[str]) -> tuple[str, str] | None:
    """Split ``address`` into ``(instance_id, path)``; None when no instance owns it.

    The built-in ``log`` instance is always known. Answers are cached when ``instance_ids``
    is a frozenset (it cannot change under the cache); for other collections every call
    scans. Holding an :class:`AddressResolver` is cheapest of all.
    """
    global _last_resolver
    if type(instance_ids) is frozenset:
        if _last_resolver._given is not instance_ids:
            _last_resolver = AddressResolver(instance_ids)
        return _last_resolver.resolve(address)
    return _scan(address, instance_ids)


def _scan(address: str, instance_ids: Collection[str]) -> tuple[str, str] | None:
    """Try the whole address, then ever shorter prefixes ending before a dot."""
    if address in instance_ids or address in BUILTIN_INSTANCES:
        return address, ""
    end = len(address)
    while (end := address.rfind(".", 0, end)) > 0:
        prefix = address[:end]
        if end < len(address) - 1 and (prefix in instance_ids or prefix in BUILTIN_INSTANCES):
            return prefix, address[end + 1 :]
    return None


class AddressResolver:
    """:func:`resolve` over a fixed set of instance ids, with a per-address cache."""

    __slots__ = ("_cache", "_given", "instance_ids")

    def __init__(self, instance_ids: Collection[str]) -> None:
        self._given = instance_ids  # what resolve() compares by identity
        self.instance_ids = frozenset(instance_ids) | BUILTIN_INSTANCES
        self._cache: dict[str, tuple[str, str] | None] = {}

    def resolve(self, address: str) -> tuple[str, str] | None:
        """Like :func:`resolve`; costs one dict lookup once an address has been seen."""
        try:
            return self._cache[address]
        except KeyError:
            pass
        result = _scan(address, self.instance_ids)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[address] = result
        return result

    def is_instance_prefix(self, prefix: str) -> bool:
        """True if some instance id starts with ``prefix`` followed by a dot.

        A pattern such as ``bt.*.voltage`` names no instance literally but can match the
        datapoints of ``bt.bms_001``; validation accepts it for that reason.
        """
        head = prefix + "."
        return any(instance.startswith(head) for instance in self.instance_ids)


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a well-formed exact address, or None.

    Segments must be non-empty, and no whitespace or ``*`` is allowed anywhere (whitespace is
    almost always a typo in a config file; ``*`` belongs to patterns).
    """
    if not address:
        return "empty address"
    if any(ch.isspace() for ch in address):
        return f"address '{address}' contains whitespace"
    if "*" in address:
        return f"address '{address}' contains '*' (wildcards are only allowed in 'from')"
    if "" in address.split("."):
        return f"address '{address}' has an empty segment"
    return None


_last_resolver = AddressResolver(frozenset())
"""The resolver behind :func:`resolve` for the frozenset it was last called with."""
