"""The LOW_POWER profile's choices: the flag, its contradiction with --performance,
headless, the historian's default, and Pi Zero detection from the device tree."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest
from edgeos.supervisor import low_power, performance


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"low_power": False, "performance": None,
                                 "headless": False, **kw})


def test_flag_and_performance() -> None:
    assert low_power.profile_arg(_args(low_power=True)) == "LOW_POWER"
    assert low_power.profile_arg(_args(low_power=True, performance="low_power")) == "LOW_POWER"
    assert low_power.profile_arg(_args(performance="BALANCED")) == "BALANCED"
    with pytest.raises(ValueError, match="--low-power contradicts --performance BALANCED"):
        low_power.profile_arg(_args(low_power=True, performance="BALANCED"))


def test_low_power_runs_headless_and_without_historian_by_default(
        unset_env: Callable[[str], None]) -> None:
    unset_env("EDGEOS_PROFILE")  # apply() sets them for children
    unset_env("EDGEOS_FORKSERVER")
    args = _args()
    low_power.apply(args, "LOW_POWER")
    assert args.headless
    args = _args()
    low_power.apply(args, "BALANCED")
    assert not args.headless
    assert not low_power.history_enabled({}, "LOW_POWER")
    assert low_power.history_enabled({"enabled": True}, "LOW_POWER")
    assert low_power.history_enabled({}, "BALANCED")
    assert not low_power.history_enabled({"enabled": False}, "BALANCED")


def test_pi_zero_is_recognised(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi Zero 2 W Rev 1.0\x00")
    assert performance.is_pi_zero(model)
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert not performance.is_pi_zero(model)
    assert not performance.is_pi_zero(tmp_path / "missing")
