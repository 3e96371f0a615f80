"""Which interfaces mDNS may use: chosen explicitly, never every interface, and a bad
choice is refused at start with the flag or file named."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from edgeos.ipc.satellite import mdns
from edgeos.supervisor import satellite_setup


def _args(**kw: object) -> argparse.Namespace:
    base = {"mdns": None, "satellite": False, "satellite_id": None, "core_host": None,
            "core_port": 50051, "core_key": None, "satellite_listen": "off"}
    return argparse.Namespace(**{**base, **kw})


def test_flag_wins_and_is_checked(tmp_path: Path) -> None:
    (tmp_path / "edgeos.json").write_text(json.dumps({"satellite": {"mdns": ["127.0.16.9"]}}))
    assert satellite_setup.mdns_interfaces(_args(mdns="127.0.16.3,127.0.16.4"), tmp_path) \
        == ["127.0.16.3", "127.0.16.4"]
    assert satellite_setup.mdns_interfaces(_args(mdns="off"), tmp_path, "127.0.16.2") == []
    for bad in ("0.0.0.0", "eth0", "224.0.0.251", "::1", "192.0.2.77"):
        with pytest.raises(ValueError, match="--mdns"):
            satellite_setup.mdns_interfaces(_args(mdns=bad), tmp_path)


def test_edgeos_json_list_then_listen_address(tmp_path: Path) -> None:
    settings = tmp_path / "edgeos.json"
    settings.write_text(json.dumps({"satellite": {"mdns": ["127.0.16.9"]}}))
    assert satellite_setup.mdns_interfaces(_args(), tmp_path, "127.0.16.2") == ["127.0.16.9"]
    settings.write_text(json.dumps({"satellite": {"mdns": "off"}}))
    assert satellite_setup.mdns_interfaces(_args(), tmp_path, "127.0.16.2") == []
    settings.write_text(json.dumps({"satellite": {"mdns": "everywhere"}}))
    with pytest.raises(ValueError, match=r"edgeos.json: satellite.mdns"):
        satellite_setup.mdns_interfaces(_args(), tmp_path)
    settings.write_text(json.dumps({"satellite": {}}))
    assert satellite_setup.mdns_interfaces(_args(), tmp_path, "127.0.16.2") == ["127.0.16.2"]


def test_wildcard_listen_uses_only_the_mdns_route(tmp_path: Path) -> None:
    """0.0.0.0 never means "announce on every interface": one address, the kernel's
    route for 224.0.0.251 (or none at all)."""
    got = satellite_setup.mdns_interfaces(_args(), tmp_path, "0.0.0.0")
    assert got == ([mdns.multicast_source()] if mdns.multicast_source() else [])


def test_satellite_without_host_and_without_mdns_is_refused(tmp_path: Path) -> None:
    args = _args(satellite=True, satellite_id="sat1", mdns="off")
    with pytest.raises(ValueError, match="--core-host"):
        satellite_setup.link_roles(args, tmp_path / "data", tmp_path)
    args = _args(satellite=True, satellite_id="sat1", mdns="127.0.16.5")
    link = satellite_setup.link_roles(args, tmp_path / "data", tmp_path)["uplink"]["link"]
    assert link["core_host"] is None and link["mdns"] == ["127.0.16.5"]
