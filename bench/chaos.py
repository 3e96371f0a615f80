"""Chaos table: every fault of tests/chaos/faults.py against a real daemon, with the
time until the system was back and the last values lost. Prints figures; asserts
nothing (the machine is shared).

    python bench/chaos.py [--json] [--only NAME ...]

The faults run in the suite's lab (tests/chaos/lab.py): most on one shared plant, in
order, so a fault that is not survived can spoil the rows after it (the first NO is
the one to read). Baseline, measured in the same run: a cold start of a small plant to
"all running, values flowing". Target (issue 17): every fault survived, 0 values lost
beyond the last second before a power cut. The last line with --json: {"faults", "survived",
"lost_values", "baseline_start_s", "rows"}.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import finish, parser
from tests.chaos.faults import FAULTS, Outcome, flowing, snapshot
from tests.chaos.lab import PLANT, ROUTES, SETTINGS, Lab
from tests.integration.daemon import Daemon


def baseline(root: Path) -> float:
    d = Daemon(root, PLANT, ROUTES, SETTINGS)
    try:
        t0 = time.monotonic()
        d.start(timeout=90)
        d.wait_for(lambda: flowing(d, 0) and len(snapshot(d)) > 10, 60, "traffic")
        return round(time.monotonic() - t0, 2)
    finally:
        d.cleanup()


def main() -> int:
    ap = parser(__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="fault names (default: all)")
    args = ap.parse_args()
    chosen = [f for f in FAULTS if not args.only or f.name in args.only]
    rows: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="edgeos-chaos-") as tmp, \
            Lab(Path(tmp) / "lab") as lab:
        base = baseline(Path(tmp) / "baseline")
        for fault in chosen:
            if fault.needs:
                print(f"skipped {fault.name}: {fault.needs}", file=sys.stderr)
                continue
            try:
                rows.append(fault.run(lab, fault))
            except Exception as exc:  # a fault not survived is a row, not a crash
                traceback.print_exc(file=sys.stderr)
                rows.append(Outcome(fault.name, fault.injected, False, None, -1,
                                    fault.limit_s, f"{type(exc).__name__}: "
                                    f"{(str(exc).splitlines() or [''])[0][:100]}"))
    print(f"baseline: cold start to values flowing {base:.2f} s")
    print(f"{'fault':30} {'survived':8} {'back after':>10} {'limit':>6} {'lost':>5}  "
          "injected / detail")
    for r in rows:
        back = "-" if r.recovery_s is None else f"{r.recovery_s:.2f}"
        print(f"{r.fault:30} {'yes' if r.survived else 'NO':8} {back:>9}s "
              f"{r.limit_s:>5.0f}s {r.lost_values:>5}  {r.injected}"
              f"{'; ' + r.detail if r.detail else ''}")
    summary = {"faults": len(rows), "survived": sum(r.survived for r in rows),
               "lost_values": sum(max(r.lost_values, 0) for r in rows),
               "baseline_start_s": base, "rows": [r.row() for r in rows]}
    print(f"{summary['survived']}/{summary['faults']} faults survived, "
          f"{summary['lost_values']} values lost")
    return finish(args, summary)


if __name__ == "__main__":
    sys.exit(main())
