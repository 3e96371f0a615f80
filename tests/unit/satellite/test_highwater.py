"""The gateway's per-satellite high-water mark: updated in place, kept across a reopen."""

from __future__ import annotations

from pathlib import Path

from edgeos.ipc.satellite.gateway import HighWater


def test_put_updates_in_place_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "satellites.db"
    hwm = HighWater(path)
    assert hwm.get("sat1") == ("", 0)
    hwm.put("sat1", "e1", 5)
    hwm.put("sat1", "e1", 7)
    hwm.put("sat1", "e2", 0)  # a new buffer epoch starts over
    hwm.put("sat2", "f1", 3)
    assert hwm.get("sat1") == ("e2", 0) and hwm.get("sat2") == ("f1", 3)
    assert hwm.db.execute("SELECT COUNT(*) FROM hwm").fetchone()[0] == 2
    hwm.put("sat1", "e2", 9)
    hwm.close()
    again = HighWater(path)
    assert again.get("sat1") == ("e2", 9) and again.get("sat2") == ("f1", 3)
    again.close()
