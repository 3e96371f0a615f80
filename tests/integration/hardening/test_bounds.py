"""Bounded input (issue 17 items 3, 4, 13): config file sizes, string lengths and the
number of instances have limits, with an error naming the limit; nothing is applied."""

from __future__ import annotations

import json

from tests.integration.daemon import sim


def test_50_mb_name_is_refused_and_status_stays_small(daemon_factory) -> None:
    d = daemon_factory([sim("w1")]).start()
    before = (d.config / "connections.json").read_text()
    # in the file: refused by the file size limit, before it is parsed
    d.write_connections([sim("w1", name="n" * 50_000_000)])
    done = d.ctl("reload")
    assert done.returncode != 0
    assert "larger than the limit of 4,194,304 bytes (4 MiB)" in done.stderr + done.stdout
    # through the API (a document, no file): refused by the string length limit
    try:
        d.call("connections", doc={"version": "1.0",
                                   "connections": [sim("w1", name="n" * 10_000_000)]})
        raise AssertionError("accepted")
    except Exception as exc:  # RpcError with the detail lines
        text = str(exc) + json.dumps(getattr(exc, "detail", None))
    assert "nothing changed" in text
    assert "is too long" in text or "longer than the limit" in text
    assert len(text) < 5000
    (d.config / "connections.json").write_text(before)
    # a name of 201 characters: the schema's own bound for names
    d.write_connections([sim("w1", name="n" * 201)])
    done = d.ctl("reload")
    assert done.returncode != 0 and "name" in done.stderr and "too long" in done.stderr
    status = d.ctl("--json", "status")
    assert len(status.stdout) < 20_000 and d.instance("w1")["name"] == "w1"


def test_long_strings_in_free_form_fields_and_routes_are_refused(daemon_factory) -> None:
    d = daemon_factory([sim("w1")]).start()
    d.write_connections([sim("w1", failsafe={"MAIN.setpoint": "x" * 100_000})])
    done = d.ctl("reload")
    assert done.returncode != 0
    assert "failsafe.MAIN.setpoint: string of 100000 characters is longer than the limit " \
        "of 65536" in done.stderr
    d.write_connections([sim("w1")])
    d.write_routes([{"id": "r", "from": "w1.a", "to": "w1.b", "description": "d" * 5000}])
    done = d.ctl("reload")
    assert done.returncode != 0 and "description" in done.stderr + done.stdout
    assert d.call("routes")["routes"] == []


def test_huge_routing_file_is_refused_by_size_and_the_broker_stays(daemon_factory) -> None:
    d = daemon_factory([sim("w1")]).start()
    pid = d.instance("broker")["pid"]
    big = {str(n): n for n in range(600_000)}  # ~8 MB: one map() route
    d.write_routes([{"id": "big", "from": "w1.a", "to": "w1.b", "transform": {"map": big}}])
    done = d.ctl("reload")
    assert done.returncode != 0
    assert "routing.json" in done.stderr + done.stdout
    assert "larger than the limit of 4,194,304 bytes" in done.stderr + done.stdout
    broker = d.instance("broker")
    assert broker["pid"] == pid and broker["status"] == "running"


def test_instance_flood_is_refused_before_anything_starts(daemon_factory) -> None:
    d = daemon_factory([sim("w1")], settings={"max_instances": 50}).start()
    d.write_connections([sim(f"w{n}", enabled=False) for n in range(51)])
    done = d.ctl("reload")
    assert done.returncode != 0
    assert "51 connections, more than the limit of 50 (max_instances in edgeos.json)" \
        in done.stderr
    d.write_connections([sim(f"w{n}") for n in range(10_000)])
    (d.config / "edgeos.json").write_text(json.dumps({"max_instances": 10_000}))
    done = d.ctl("reload")
    assert done.returncode != 0
    assert "10000 enabled connections need about" in done.stderr
    assert "of this machine's" in done.stderr
    assert [i["id"] for i in d.status()["instances"] if i["role"] == "worker"] == ["w1"]
