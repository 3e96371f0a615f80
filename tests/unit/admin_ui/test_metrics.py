"""Prometheus text from a status answer, parsed back with prometheus-client."""

from __future__ import annotations

from edgeos.admin_ui.metrics import render
from prometheus_client.parser import text_string_to_metric_families

INSTANCES = [
    {"id": "broker", "type": "broker", "role": "broker", "status": "running",
     "cpu_percent": 2.5, "memory_mb": 30.0, "pps_in": 100.0, "pps_out": 4.0,
     "uptime_seconds": 12, "restarts": 0, "error_count": 1, "dropped": 0,
     "bus": {"dp_in": 5000, "cmd_out": 40, "dropped_cut": 7, "datapoints": 45,
             "source_pps": {"plc_1": 60.0}}},
    {"id": "plc_1", "type": "simulator", "role": "worker", "status": "backoff",
     "cpu_percent": 0.5, "memory_mb": 20.0, "pps_in": 1.0, "pps_out": 60.0,
     "uptime_seconds": 0, "restarts": 3, "error_count": 2, "dropped": 9, "bus": {}},
]
ROUTES = {"counters": {"r1": {"fired": 10, "suppressed": 2, "errors": 1}}}


def families(text: bytes) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text.decode())}


def sample(fams: dict, name: str, **labels: str) -> float:
    return next(s.value for s in fams[name].samples
                if all(s.labels.get(k) == v for k, v in labels.items()))


def test_instances_broker_and_routes() -> None:
    fams = families(render("panic", INSTANCES, ROUTES))
    assert sample(fams, "edgeos_panic") == 1
    assert sample(fams, "edgeos_instance_cpu_percent", id="broker") == 2.5
    assert sample(fams, "edgeos_instance_memory_bytes", id="plc_1") == 20 * 2**20
    assert sample(fams, "edgeos_instance_restarts", id="plc_1") == 3
    assert sample(fams, "edgeos_instance_dropped", id="plc_1") == 9
    assert sample(fams, "edgeos_instance_state", id="plc_1", state="backoff") == 1
    assert sample(fams, "edgeos_instance_state", id="plc_1", state="running") == 0
    assert sample(fams, "edgeos_broker_datapoints_in") == 5000
    assert sample(fams, "edgeos_broker_dropped", reason="dropped_cut") == 7
    assert sample(fams, "edgeos_broker_source_pps", id="plc_1") == 60
    assert sample(fams, "edgeos_route_fired", route="r1") == 10
    assert sample(fams, "edgeos_route_errors", route="r1") == 1


def test_without_broker_or_routes_the_instances_still_count() -> None:
    fams = families(render("normal", INSTANCES[1:], None))
    assert sample(fams, "edgeos_panic") == 0
    assert "edgeos_broker_datapoints_in" not in fams and "edgeos_route_fired" not in fams
    assert sample(fams, "edgeos_instance_pps_out", id="plc_1") == 60


def test_labels_leave_instance_and_job_to_prometheus() -> None:
    """Prometheus sets ``instance`` and ``job`` on every scraped series; ours would be
    renamed ``exported_instance``. (promtool is in Debian's 96 MB prometheus package,
    too big for the test dependencies: prometheus-client's parser checks the syntax.)"""
    fams = families(render("normal", INSTANCES, ROUTES))
    labels = {name for fam in fams.values() for s in fam.samples for name in s.labels}
    assert labels == {"id", "type", "state", "reason", "direction", "route"}
    for fam in fams.values():
        assert fam.documentation, fam.name
        if fam.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in fam.samples)
