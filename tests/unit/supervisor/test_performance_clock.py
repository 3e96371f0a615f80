"""The CPU clock behind profile detection, read from sysfs and /proc/cpuinfo (not
through psutil, which the idle supervisor no longer imports: issue 16)."""

from __future__ import annotations

from pathlib import Path

from edgeos.supervisor import performance

CPUINFO = "processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\ncpu MHz\t\t: 700.000\n"


def test_top_clock_from_sysfs_first(tmp_path: Path) -> None:
    freq, cpuinfo = tmp_path / "cpuinfo_max_freq", tmp_path / "cpuinfo"
    freq.write_text("1500000\n")
    cpuinfo.write_text(CPUINFO)
    assert performance.max_mhz(freq, cpuinfo) == 1500.0


def test_current_clock_from_cpuinfo_without_cpufreq(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    assert performance.max_mhz(tmp_path / "missing", cpuinfo) == 700.0


def test_unknown_clock_is_zero(tmp_path: Path) -> None:
    (tmp_path / "garbled").write_text("fast\n")
    (tmp_path / "cpuinfo").write_text("processor\t: 0\n")
    assert performance.max_mhz(tmp_path / "garbled", tmp_path / "cpuinfo") == 0.0
    assert performance.max_mhz(tmp_path / "a", tmp_path / "b") == 0.0


def test_this_host_gets_a_profile() -> None:
    assert performance.detect() in performance.PROFILES
