"""Address resolution: longest instance id, dotted ids, the built-in log instance."""

from __future__ import annotations

from edgeos.ipc.routing import AddressResolver, resolve
from edgeos.ipc.routing.addresses import CACHE_LIMIT, address_problem

IDS = {"bt", "bt.bms_001", "plc_001", "mqtt.broker_local", "webhook.alert_service"}


def test_longest_instance_id_wins() -> None:
    assert resolve("bt.bms_001.voltage", IDS) == ("bt.bms_001", "voltage")
    assert resolve("bt.bms_002.voltage", IDS) == ("bt", "bms_002.voltage")
    assert resolve("plc_001.MAIN.fbBattery.fVoltage", IDS) == ("plc_001", "MAIN.fbBattery.fVoltage")


def test_path_keeps_its_own_characters() -> None:
    assert resolve("mqtt.broker_local.alarms/critical", IDS) == (
        "mqtt.broker_local",
        "alarms/critical",
    )


def test_log_is_built_in() -> None:
    assert resolve("log.system", IDS) == ("log", "system")
    assert resolve("log.system", set()) == ("log", "system")


def test_bare_instance_id_names_the_instance() -> None:
    assert resolve("webhook.alert_service", IDS) == ("webhook.alert_service", "")


def test_unknown_and_malformed() -> None:
    assert resolve("plc_002.MAIN.x", IDS) is None
    assert resolve("nothing", IDS) is None
    assert resolve("", IDS) is None
    assert resolve(".plc_001", IDS) is None
    assert resolve("plc_001.", IDS) is None
    assert resolve("plc_0", IDS) is None


def test_resolver_caches_and_agrees() -> None:
    resolver = AddressResolver(IDS)
    for address in ("bt.bms_001.cells.3", "bt.x", "nope.x", "log.a", "webhook.alert_service"):
        assert resolver.resolve(address) == resolve(address, IDS)
        assert resolver.resolve(address) == resolve(address, IDS)  # second time from the cache
    assert "log" in resolver.instance_ids


def test_frozensets_are_cached() -> None:
    ids = frozenset(IDS)
    assert resolve("bt.bms_001.voltage", ids) == ("bt.bms_001", "voltage")
    assert resolve("bt.bms_001.voltage", ids) == ("bt.bms_001", "voltage")
    assert resolve("log.x", ids) == ("log", "x")
    assert resolve("nope.x", ids) is None


def test_resolver_cache_is_bounded() -> None:
    resolver = AddressResolver(IDS)
    for n in range(CACHE_LIMIT + 10):
        resolver.resolve(f"plc_001.x{n}")
    assert len(resolver._cache) <= CACHE_LIMIT


def test_instance_prefix() -> None:
    resolver = AddressResolver(IDS)
    assert resolver.is_instance_prefix("mqtt")
    assert not resolver.is_instance_prefix("mqt")


def test_address_problems() -> None:
    assert address_problem("plc_001.MAIN.x") is None
    assert "whitespace" in address_problem("plc_001.MAIN x")
    assert "'*'" in address_problem("plc_001.*")
    assert "empty segment" in address_problem("plc_001..x")
    assert address_problem("") == "empty address"
