"""Node-RED flow JSON for the tests, written as the editor would export it, and a sink
that records what reaches it as JSON lines in a file the test reads."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

TAB = "tab_edgeos_test"
_ids = itertools.count(1)


def _node(kind: str, wires: list[list[str]], **props: Any) -> dict[str, Any]:
    """A flow node; ``wires`` holds the ids wired to each output."""
    return {"id": props.pop("id", None) or f"n{next(_ids)}", "type": kind, "z": TAB,
            "name": "", "x": 100, "y": 100, "wires": wires, **props}


def tab() -> dict[str, Any]:
    return {"id": TAB, "type": "tab", "label": "edgeos test", "disabled": False, "info": ""}


def core(url: str, token: str, node_id: str = "core1") -> dict[str, Any]:
    """The ``smarthome-edge-core`` config node; the token travels as a credential."""
    return {"id": node_id, "type": "smarthome-edge-core", "name": "edge", "url": url,
            "credentials": {"token": token}}


def smarthome_in(server: str, address: str, wires: list[str], **kw: Any) -> dict[str, Any]:
    return _node("smarthome-in", [wires], server=server, address=address, **kw)


def smarthome_out(server: str, address: str = "", **kw: Any) -> dict[str, Any]:
    return _node("smarthome-out", [], server=server, address=address, **kw)


def function(code: str, wires: list[str], **kw: Any) -> dict[str, Any]:
    return _node("function", [wires], func=code, outputs=1, noerr=0, initialize="",
                 finalize="", libs=[], **kw)


def status_of(node_ids: list[str], wires: list[str]) -> dict[str, Any]:
    """A stock ``status`` node: forwards status changes of the given nodes."""
    return _node("status", [wires], scope=node_ids)


def catch_of(node_ids: list[str], wires: list[str]) -> dict[str, Any]:
    """A stock ``catch`` node: forwards errors the given nodes report."""
    return _node("catch", [wires], scope=node_ids, uncaught=False)


def mqtt_broker(port: int, node_id: str = "broker1") -> dict[str, Any]:
    """The stock ``mqtt-broker`` config node for a broker on loopback."""
    return {"id": node_id, "type": "mqtt-broker", "name": "", "broker": "127.0.0.1",
            "port": str(port), "clientid": "", "autoConnect": True, "usetls": False,
            "protocolVersion": "4", "keepalive": "60", "cleansession": True,
            "autoUnsubscribe": True}


def mqtt_in(broker: str, topic: str, wires: list[str]) -> dict[str, Any]:
    """A stock ``mqtt in`` node that parses JSON payloads."""
    return _node("mqtt in", [wires], topic=topic, qos="1", datatype="json", broker=broker,
                 nl=False, rap=True, rh=0, inputs=0)


def mqtt_out(broker: str, topic: str = "") -> dict[str, Any]:
    """A stock ``mqtt out`` node (an empty topic: ``msg.topic``)."""
    return _node("mqtt out", [], topic=topic, qos="1", retain="false", broker=broker)


class JsonLines:
    """A stock ``file`` node appending one JSON line per message, and its reader.

    ``fields`` are JavaScript expressions over ``msg`` whose values make up the line."""

    def __init__(self, path: Path, fields: dict[str, str]) -> None:
        self.path = path
        body = ", ".join(f"{json.dumps(k)}: {expr}" for k, expr in fields.items())
        self.file = _node("file", [[]], filename=str(path), filenameType="str",
                          appendNewline=True, createDir=True, overwriteFile="false",
                          encoding="none")
        self.encode = function(f"msg.payload = JSON.stringify({{{body}}});\nreturn msg;",
                               [self.file["id"]])

    @property
    def id(self) -> str:
        """Wire to this id to record a message."""
        return str(self.encode["id"])

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return [self.encode, self.file]

    def lines(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        text = self.path.read_text()
        complete = text[:text.rfind("\n") + 1]  # the file node may be mid-write
        return [json.loads(line) for line in complete.splitlines() if line]


MSG_FIELDS = {"topic": "msg.topic", "payload": "msg.payload", "quality": "msg.quality",
              "ts": "msg.ts", "ack": "msg.ack", "unit": "msg.unit"}
STATUS_FIELDS = {"fill": "msg.status.fill", "shape": "msg.status.shape",
                 "text": "msg.status.text", "source": "msg.status.source.id"}
ERROR_FIELDS = {"message": "msg.error.message", "source": "msg.error.source.id",
                "topic": "msg.topic", "payload": "msg.payload"}
