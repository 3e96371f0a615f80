"""``edgeos.json`` ``low_power.poll_multiplier``: checked at start with the file and the
field named, bounded 1..10, handed to every child through its environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edgeos.common import schemas
from edgeos.ipc import low_power as child_side
from edgeos.supervisor import low_power


def write(config: Path, doc: object) -> None:
    (config / "edgeos.json").write_text(json.dumps(doc))


def test_default_is_two_without_a_file_or_the_field(tmp_path: Path) -> None:
    assert low_power.poll_multiplier(tmp_path) == 2.0
    write(tmp_path, {"log_level": "INFO"})
    assert low_power.poll_multiplier(tmp_path) == 2.0


@pytest.mark.parametrize("value", [1, 3, 2.5, 10])
def test_a_value_in_bounds_is_taken(tmp_path: Path, value: float) -> None:
    write(tmp_path, {"low_power": {"poll_multiplier": value}})
    assert low_power.poll_multiplier(tmp_path) == float(value)
    assert schemas.errors("edgeos", {"low_power": {"poll_multiplier": value}}) == []


@pytest.mark.parametrize("value", [0, 0.5, 11, -2, "3", True, None, [2]])
def test_a_bad_value_is_refused_naming_file_and_field(tmp_path: Path, value: object) -> None:
    write(tmp_path, {"low_power": {"poll_multiplier": value}})
    with pytest.raises(ValueError) as err:
        low_power.poll_multiplier(tmp_path)
    assert str(tmp_path / "edgeos.json") in str(err.value)
    assert "low_power.poll_multiplier must be a number from 1 to 10" in str(err.value)
    assert repr(value) in str(err.value)
    # the settings loader (reload) refuses it as well, naming the field
    assert any(e.startswith("low_power.poll_multiplier")
               for e in schemas.errors("edgeos", {"low_power": {"poll_multiplier": value}}))


def test_a_section_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"low_power": 3})
    with pytest.raises(ValueError, match="low_power must be an object"):
        low_power.poll_multiplier(tmp_path)


def test_configure_hands_it_to_the_children(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(child_side.POLL_ENV, "")  # restored after: configure() sets it
    monkeypatch.setenv(child_side.ENV, child_side.LOW_POWER)
    write(tmp_path, {"low_power": {"poll_multiplier": 4}})
    low_power.configure(tmp_path)
    assert child_side.poll_multiplier() == 4.0
    assert child_side.effects()["poll_multiplier"] == 4.0
    assert child_side.scale_polls({"poll_interval_s": 0.5}, child_side.poll_multiplier()) \
        == {"poll_interval_s": 2.0}
    monkeypatch.setenv(child_side.ENV, "BALANCED")  # only LOW_POWER multiplies
    assert child_side.poll_multiplier() == 1.0


@pytest.mark.parametrize(("env", "expect"), [("3", 3.0), ("50", 10.0), ("0.1", 1.0),
                                              ("nan", 2.0), ("junk", 2.0), ("", 2.0)])
def test_a_child_never_trusts_its_environment(monkeypatch: pytest.MonkeyPatch, env: str,
                                              expect: float) -> None:
    monkeypatch.setenv(child_side.ENV, child_side.LOW_POWER)
    monkeypatch.setenv(child_side.POLL_ENV, env)
    assert child_side.poll_multiplier() == expect


def test_the_settings_loader_takes_the_satellite_section(tmp_path: Path) -> None:
    """``satellite.buffer_mb`` / ``mdns`` (docs/satellites.md) pass the schema; a wrong
    one is named."""
    from edgeos.common.jsonfile import ConfigError
    from edgeos.supervisor.config import load_settings

    write(tmp_path, {"satellite": {"buffer_mb": 64, "mdns": "off"},
                     "low_power": {"poll_multiplier": 3}})
    load_settings(tmp_path)
    write(tmp_path, {"satellite": {"buffer_mb": 0}})
    with pytest.raises(ConfigError, match=r"satellite\.buffer_mb"):
        load_settings(tmp_path)
