"""The PLC's whole symbol tree for an ``ads`` instance, with each symbol's current value.

A browse job of the daemon (see :mod:`edgeos.supervisor.jobs`): it gets the instance's
config as JSON on stdin (so no secret shows in ``ps``), opens its own ADS connection
beside the running instance (a PLC serves many), uploads the symbol and data type tables,
flattens them into the same dotted paths the worker publishes, reads every value in
sum-reads, and says which paths the instance's ``symbols`` patterns select today. The
page then edits those patterns ("subscribe"), and the instance publishes them.
"""

from __future__ import annotations

import struct
import sys
from typing import Any

from edgeos.workers.ads.connection import AdsLink, AdsTarget, LinkError
from edgeos.workers.ads.symbols import flatten, rules_from_config, select
from edgeos.workers.jobio import become_job, emit, read_request

MAX_SYMBOLS = 20_000


def browse(config: dict[str, Any], emit: Any) -> dict[str, Any]:
    target = AdsTarget.from_config(config)
    link = AdsLink(target)
    emit({"progress": 0.1, "message": f"connecting to {target.net_id}"})
    link.open()
    try:
        emit({"progress": 0.3, "message": "uploading the symbol table"})
        symbols, types = link.upload()
        flat = flatten(symbols, types, MAX_SYMBOLS)
        emit({"progress": 0.6, "message": f"reading {len(flat.leaves)} values"})
        raws = link.sum_read([(leaf.index_group, leaf.index_offset, leaf.codec.size)
                              for leaf in flat.leaves])
    finally:
        link.close()
    selected = {leaf.path for leaf, _ in select(flat.leaves, rules_from_config(config))}
    rows = []
    for leaf, raw in zip(flat.leaves, raws, strict=True):
        row: dict[str, Any] = {"path": leaf.path, **leaf.meta(),
                               "selected": leaf.path in selected}
        if raw is not None:
            try:
                row["value"] = leaf.codec.decode(raw)
            except (ValueError, struct.error) as exc:
                row["error"] = str(exc)
        rows.append(row)
    return {"kind": "ads", "net_id": target.net_id, "symbols": rows, "truncated": flat.truncated,
            "skipped": flat.skipped[:100], "patterns": config.get("symbols") or ["**"]}


def main() -> int:
    try:
        request = read_request()
    except ValueError as exc:
        emit({"error": str(exc)})
        return 2
    config = request["config"]
    become_job(f"edgeos: browse ads {request.get('instance', '')}")
    try:
        result = browse(config, emit)
    except LinkError as exc:
        emit({"error": f"PLC {config.get('ams_net_id')}: {exc}"})
        return 1
    emit({"progress": 1.0, "message": f"{len(result['symbols'])} symbols"})
    emit({"result": {**result, "instance": request.get("instance")}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
