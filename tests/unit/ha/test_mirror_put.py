"""The standby broker's ``mirror_put`` (issue 15): changes are stored and put on its
change feed marked mirrored; a snapshot is stored only, and never replaces a newer
value that a change mirrored before it already brought (the snapshot is taken on the
primary after the standby joined: changes sent meanwhile arrive first)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from edgeos.ipc import protocol
from edgeos.ipc.broker.commands import BrokerCommand
from edgeos.ipc.broker.store import LastValues
from edgeos.ipc.commands import find


class ChangesSocket:
    """The broker's change feed PUB: what it was given."""

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []

    def send_multipart(self, frames: list[bytes]) -> None:
        self.sent.append(frames)


class Broker:
    def __init__(self, path: Path) -> None:
        self.values = LastValues(path)
        self.states: dict[str, str] = {}
        self.changes = ChangesSocket()


def put(broker: Broker, batches: list[Any], publish: bool) -> Any:
    cmd = find(BrokerCommand.registry, "mirror_put")(broker)  # type: ignore[arg-type]
    return asyncio.run(cmd.answer({"batches": batches, "publish": publish}))


def test_a_snapshot_is_stored_not_published_and_never_older(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "last_values.db")
    put(broker, [["sat1", [["c1.seq", 12, 2000, "good", False, None]]]], publish=True)
    assert [f[0] for f in broker.changes.sent] == [b"~sat1."]
    assert protocol.unpack(broker.changes.sent[0][1])[0][1] == 12
    put(broker, [["sat1", [["c1.seq", 10, 1000, "good", False, None],
                           ["c1.mode", "auto", 900, "good", False, None]]]], publish=False)
    assert len(broker.changes.sent) == 1  # the snapshot went out on no feed
    assert broker.values.get("sat1.c1.seq")[1] == 12  # the newer change held
    assert broker.values.get("sat1.c1.mode")[1] == "auto"  # the snapshot's own value
