"""A real Broker in a process of its own, for the benches that A/B broker variants
(bench/drain_budget.py, bench/router_tail.py): each variant is a small program run
with ``python -c`` that builds the Broker, prints ``ready`` and runs until stdin ends."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from edgeos.ipc.child import InstanceSpec

from bench.router import routes


def start_broker(root: Path, name: str, program: str, *args: str
                 ) -> tuple[subprocess.Popen[bytes], Path]:
    """Run ``program`` (its argv: the broker's spec as JSON, then ``args``) with its own
    run, data and config dirs under ``root / name`` and the bench's routes; return it
    once it says ready, with its run dir."""
    base = root / name
    dirs = {d: base / d for d in ("run", "data", "config")}
    for d in dirs.values():
        d.mkdir(parents=True)
    (dirs["config"] / "routing.json").write_text(json.dumps({"version": "1.0",
                                                             "routes": routes()}))
    instances = {i: {"type": "simulator", "max_pps": 1e9} for i in ("src", "dst")}
    spec = InstanceSpec(id="broker", type="broker", name="broker", run_dir=str(dirs["run"]),
                        data_dir=str(dirs["data"]), config_dir=str(dirs["config"]),
                        extra={"instances": instances})
    proc = subprocess.Popen([sys.executable, "-c", program,
                             json.dumps(dataclasses.asdict(spec)), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready"
    return proc, dirs["run"]
