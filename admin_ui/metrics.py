"""``/metrics``: Prometheus text from the supervisor's stats and the broker's counters.

Built per scrape from plain data (the ``status`` instance list and the ``routes``
answer), so the numbers are exactly what ``edgectl status`` shows. Series name the
edgeos instance in the label ``id``: Prometheus sets ``instance`` (and ``job``) on
every scraped series itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

STATES = ("stopped", "starting", "running", "stopping", "backoff", "error", "killed",
          "suspended_by_spam", "disconnected")
BROKER_DROPS = ("dropped_suspended", "dropped_cut", "dropped_frozen", "undeliverable",
                "malformed", "oversized")
MB = 1024 * 1024


class Snapshot:
    """A collector over one status/routes answer."""

    def __init__(self, mode: str, instances: list[dict[str, Any]],
                 routes: dict[str, Any] | None) -> None:
        self.mode = mode
        self.instances = instances
        self.routes = routes or {}

    def collect(self) -> Iterator[Metric]:
        labels = ["id", "type"]
        yield GaugeMetricFamily("edgeos_panic", "1 while the system is in panic mode",
                                value=1.0 if self.mode == "panic" else 0.0)
        gauges = {
            "cpu_percent": ("edgeos_instance_cpu_percent", "CPU use of the instance process"),
            "pps_in": ("edgeos_instance_pps_in", "datapoints per second into the instance"),
            "pps_out": ("edgeos_instance_pps_out", "datapoints per second out of it"),
            "uptime_seconds": ("edgeos_instance_uptime_seconds", "seconds since it started"),
        }
        families = {key: GaugeMetricFamily(name, doc, labels=labels)
                    for key, (name, doc) in gauges.items()}
        rss = GaugeMetricFamily("edgeos_instance_memory_bytes", "resident set size",
                                labels=labels)
        restarts = CounterMetricFamily("edgeos_instance_restarts", "restarts since the "
                                       "daemon started", labels=labels)
        errors = CounterMetricFamily("edgeos_instance_errors", "errors reported",
                                     labels=labels)
        dropped = CounterMetricFamily("edgeos_instance_dropped", "datapoints dropped on "
                                      "purpose (spam guard, full queue)", labels=labels)
        state = GaugeMetricFamily("edgeos_instance_state", "1 for the current state",
                                  labels=[*labels, "state"])
        for inst in self.instances:
            lv = [str(inst.get("id")), str(inst.get("type"))]
            for key, fam in families.items():
                fam.add_metric(lv, float(inst.get(key) or 0))
            rss.add_metric(lv, float(inst.get("memory_mb") or 0) * MB)
            restarts.add_metric(lv, float(inst.get("restarts") or 0))
            errors.add_metric(lv, float(inst.get("error_count") or 0))
            dropped.add_metric(lv, float(inst.get("dropped") or 0))
            current = inst.get("status")
            for name in STATES:
                state.add_metric([*lv, name], 1.0 if name == current else 0.0)
        yield from families.values()
        yield from (rss, restarts, errors, dropped, state)
        yield from self._broker()
        yield from self._routes()

    def _broker(self) -> Iterator[Metric]:
        broker = next((i for i in self.instances if i.get("role") == "broker"), None)
        bus = (broker or {}).get("bus") or {}
        if not bus:
            return
        yield CounterMetricFamily("edgeos_broker_datapoints_in", "datapoints received",
                                  value=float(bus.get("dp_in", 0)))
        yield CounterMetricFamily("edgeos_broker_commands_out", "commands delivered",
                                  value=float(bus.get("cmd_out", 0)))
        yield GaugeMetricFamily("edgeos_broker_datapoints", "datapoints with a last value",
                                value=float(bus.get("datapoints", 0)))
        rates = GaugeMetricFamily("edgeos_broker_pps", "broker rate", labels=["direction"])
        rates.add_metric(["in"], float(broker.get("pps_in") or 0) if broker else 0.0)
        rates.add_metric(["out"], float(broker.get("pps_out") or 0) if broker else 0.0)
        yield rates
        drops = CounterMetricFamily("edgeos_broker_dropped", "datapoints or commands "
                                    "dropped, by reason", labels=["reason"])
        for reason in BROKER_DROPS:
            drops.add_metric([reason], float(bus.get(reason, 0)))
        yield drops
        source = GaugeMetricFamily("edgeos_broker_source_pps", "inbound rate per source "
                                   "as the spam guard measures it", labels=["id"])
        for iid, pps in sorted((bus.get("source_pps") or {}).items()):
            source.add_metric([str(iid)], float(pps))
        yield source

    def _routes(self) -> Iterator[Metric]:
        counters = self.routes.get("counters") or {}
        if not counters:
            return
        fired = CounterMetricFamily("edgeos_route_fired", "times a route delivered",
                                    labels=["route"])
        suppressed = CounterMetricFamily("edgeos_route_suppressed", "times a route's "
                                         "condition, schedule or transform held a value "
                                         "back", labels=["route"])
        errors = CounterMetricFamily("edgeos_route_errors", "route evaluation errors",
                                     labels=["route"])
        for rid, c in sorted(counters.items()):
            fired.add_metric([rid], float(c.get("fired", 0)))
            suppressed.add_metric([rid], float(c.get("suppressed", 0)))
            errors.add_metric([rid], float(c.get("errors", 0)))
        yield from (fired, suppressed, errors)


def render(mode: str, instances: list[dict[str, Any]], routes: dict[str, Any] | None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot(mode, instances, routes))
    return generate_latest(registry)
