"""Modbus discovery against pymodbus's server: a SunSpec inverter image and two plain
units on one TCP endpoint, and a shared RTU line that a running instance polls."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import pid_alive
from tests.integration.modbus.peers import PtyLine, ServerThread
from tests.integration.modbus.test_modbus_sunspec import ABSENT, EXAMPLE, EXPECTED, IMAGE


@pytest.fixture
def plant() -> Iterator[ServerThread]:
    """Unit 1: the SunSpec inverter; units 3 and 9: plain devices with a few registers."""
    server = ServerThread([1, 3, 9], registers=40200).start()
    for address, regs in IMAGE.items():
        server.set("holding", address, regs)
    server.set("holding", 40122, [0xFFFF, 0])  # end of the model chain
    server.set("holding", 0, [11, 22, 33], unit_id=3)
    yield server
    server.close()


def run_discover(*args: str, timeout: float = 60) -> tuple[list[dict[str, Any]], int]:
    """The discovery process as the supervisor runs it: its JSON lines and exit code."""
    done = subprocess.run([sys.executable, "-m", "edgeos.workers.modbus.discover", *args],
                          capture_output=True, text=True, timeout=timeout)
    return [json.loads(line) for line in done.stdout.splitlines()], done.returncode


def test_finds_the_three_units_and_the_sunspec_models(plant: ServerThread) -> None:
    lines, code = run_discover(f"tcp://127.0.0.1:{plant.port}", "--units", "1-10",
                               "--timeout", "0.2")
    assert code == 0
    result = lines[-1]["result"]
    units = {u["unit_id"]: u for u in result["units"]}
    assert sorted(units) == [1, 3, 9]
    assert units[1]["sunspec"] == [1, 103]
    assert units[1]["sunspec_base"] == 40000
    assert units[1]["identity"] == {"manufacturer": "Fronius", "model": "Symo 10.0-3-M",
                                    "version": "3.2.4", "serial": "30123456"}
    assert units[3]["sunspec"] == [] and units[9]["sunspec"] == []
    # a plain unit says which tables answer from where (this image: 40200 registers of
    # each kind, 64 bits)
    holding = [t for t in units[3]["tables"] if t["table"] == "holding"]
    assert {"table": "holding", "address": 0, "count": 125} in holding
    assert {t["table"] for t in units[3]["tables"]} == {"holding", "input", "coil", "discrete"}
    coils = [t for t in units[3]["tables"] if t["table"] == "coil"]
    assert coils == [{"table": "coil", "address": 0, "count": 64}]
    progress = [line["progress"] for line in lines if "progress" in line]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) == 11


def test_the_generated_map_is_the_hand_written_one(plant: ServerThread) -> None:
    lines, _ = run_discover(f"tcp://127.0.0.1:{plant.port}", "--units", "1",
                            "--timeout", "0.2")
    generated = lines[-1]["result"]["units"][0]["connection"]["config"]["registers"]
    written = json.loads(EXAMPLE.read_text("utf-8"))["connections"][0]["config"]["registers"]
    assert generated == written


def test_the_generated_connection_reads_the_same_values(daemon_factory: Any,
                                                       plant: ServerThread) -> None:
    lines, _ = run_discover(f"tcp://127.0.0.1:{plant.port}", "--units", "1",
                            "--timeout", "0.2")
    entry = lines[-1]["result"]["units"][0]["connection"]
    entry["config"]["poll_interval_s"] = 0.1
    d = daemon_factory([entry]).start()
    iid = entry["id"]

    def get(name: str) -> dict[str, Any]:
        return d.call("get", address=f"{iid}.{name}")

    d.wait_for(lambda: get("inverter.W")["quality"] == "good", what="inverter read")
    d.wait_for(lambda: get("common.SN")["quality"] == "good", what="common model read")
    assert {name: get(name)["value"] for name in EXPECTED} == EXPECTED
    for name in ABSENT:
        assert get(name)["quality"] == "uncertain", name


def test_bad_targets_and_units_are_refused_with_the_reason() -> None:
    for args, words in [(["udp://x"], "tcp://HOST:PORT"), (["tcp://"], "no host"),
                        (["rtu://"], "no serial port"),
                        (["tcp://127.0.0.1:1", "--units", "9-3"], "low to high"),
                        (["tcp://127.0.0.1:1", "--units", "300"], "0-255"),
                        (["rtu:///dev/x?speed=9"], "unknown option 'speed'")]:
        lines, code = run_discover(*args)
        assert code == 2 and words in lines[0]["error"], (args, lines)


def test_a_scan_takes_turns_with_an_instance_on_the_same_line(
        daemon_factory: Any, tmp_path: Path) -> None:
    line = PtyLine()
    server = ServerThread([1, 2], serial_port=line.server_port).start()
    try:
        server.set("holding", 0, [7, 8])
        entry = {"id": "meter", "type": "modbus", "config": {
            "transport": "rtu", "serial_port": line.client_port, "baudrate": 115200,
            "unit_id": 1, "poll_interval_s": 0.05,
            "registers": [{"name": "a", "address": 0}, {"name": "b", "address": 1}]}}
        d = daemon_factory([entry]).start()
        d.wait_for(lambda: d.call("get", address="meter.a")["value"] == 7, what="polling")
        before = d.instance("meter")["bus"]
        lines, code = run_discover(f"rtu://{line.client_port}?baudrate=115200", "--units",
                                   "1-4", "--timeout", "0.2", "--run", str(d.run))
        assert code == 0
        assert [u["unit_id"] for u in lines[-1]["result"]["units"]] == [1, 2]
        # the instance kept its turns on the line: no collision (CRC error), no timeout
        after = d.wait_for(lambda: (b := d.instance("meter")["bus"])["responses"]
                           > before["responses"] and b, what="polling goes on")
        assert after["crc_errors"] == before["crc_errors"] == 0
        assert after["timeouts"] == before["timeouts"] == 0
    finally:
        server.close()
        line.close()


# -- as a job of the daemon, through edgectl ---------------------------------------------
class SilentDevice:
    """A TCP peer that accepts connections and never answers: every unit times out."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.conns.append(self.sock.accept()[0])

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_edgectl_discover_modbus_prints_the_units(daemon_factory: Any,
                                                  plant: ServerThread) -> None:
    d = daemon_factory([]).start()
    done = d.ctl("--json", "discover", "modbus", f"tcp://127.0.0.1:{plant.port}",
                 "--units", "1-10", "--request-timeout", "0.2")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [(u["unit_id"], u["sunspec"]) for u in doc["units"]] == \
        [(1, [1, 103]), (3, []), (9, [])]
    text = d.ctl("discover", "modbus", f"tcp://127.0.0.1:{plant.port}", "--units", "1",
                 "--request-timeout", "0.2")
    assert text.returncode == 0
    assert "unit   1: SunSpec models 1, 103 at 40000 (Fronius Symo 10.0-3-M" in text.stdout
    assert "54 registers mapped, connection modbus_127_0_0_1_1" in text.stdout
    jobs = d.ctl_json("discover", "list")
    assert [j["state"] for j in jobs] == ["done", "done"]


def test_a_job_reports_progress_and_can_be_cancelled(daemon_factory: Any) -> None:
    silent = SilentDevice()
    try:
        d = daemon_factory([]).start()
        job = d.call("discover", kind="modbus", target=f"tcp://127.0.0.1:{silent.port}",
                     units="1-200", timeout_s=0.3)
        assert job["state"] == "running"
        moved = d.wait_for(lambda: (j := d.call("discover_status", job=job["id"]))
                           ["progress"] >= 0.01 and j, what="progress")
        assert "of 200" in moved["message"]
        assert d.proc is not None
        pids = [p.pid for p in psutil.Process(d.proc.pid).children(recursive=True)
                if p.cmdline()[0].startswith("edgeos: discover modbus")]
        assert len(pids) == 1
        assert d.call("discover_cancel", job=job["id"])["state"] == "cancelled"
        d.wait_for(lambda: not pid_alive(pids[0]), what="the job's process ends")
        assert d.call("discover_status", job=job["id"])["state"] == "cancelled"
    finally:
        silent.close()


def test_a_bad_target_is_refused_naming_it(daemon_factory: Any) -> None:
    d = daemon_factory([]).start()
    done = d.ctl("discover", "modbus", "tcp://127.0.0.1:502", "--units", "7-3")
    assert done.returncode == 1
    assert "unit ids '7-3'" in done.stderr and "low to high" in done.stderr
    assert d.call("discover_list")[-1]["state"] == "failed"


def test_the_api_starts_follows_and_cancels_jobs(tmp_path: Path, plant: ServerThread) -> None:
    w = WebDaemon(tmp_path / "web", []).start()
    try:
        admin = w.admin()
        job = admin.ok("POST", "/api/discover", {"kind": "modbus", "units": "1-3",
                                                 "target": f"tcp://127.0.0.1:{plant.port}",
                                                 "timeout_s": 0.2}, status=202)
        done = w.d.wait_for(lambda: (j := admin.ok("GET", f"/api/discover/{job['id']}"))
                            ["state"] == "done" and j, what="job done")
        assert [u["unit_id"] for u in done["result"]["units"]] == [1, 3]
        assert done["found"] == [{"unit_id": 1, "sunspec": [1, 103]},
                                 {"unit_id": 3, "sunspec": []}]
        bad = admin.post("/api/discover", {"kind": "modbus", "target": "tcp://x:1",
                                           "units": "0-999"})
        assert bad.status == 400 and "0-255" in bad.json()["error"]
        assert admin.post("/api/discover", {"kind": "bacnet", "target": "x"}).status == 400
        assert admin.get("/api/discover/ffffffffffff").status == 404
        viewer = w.token("viewer", "look")
        assert viewer.get(f"/api/discover/{job['id']}").status == 200
        assert viewer.post("/api/discover", {"kind": "modbus", "target": "tcp://x"}).status \
            == 403
        assert admin.delete(f"/api/discover/{job['id']}").json()["state"] == "done"
    finally:
        w.close()
