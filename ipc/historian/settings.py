"""``edgeos.json`` → ``history``: what to record, how often, and for how long.

The supervisor has checked the document against ``config/schemas/edgeos.schema.json``
before the historian sees it; this module fills in the defaults and compiles the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Rule:
    """How one datapoint is recorded: ``None`` from :meth:`Settings.rule` means not at all."""

    min_interval_ms: int
    deadband: float


@dataclass
class Settings:
    """The ``history`` section with defaults filled in."""

    enabled: bool = True
    record: str = "numeric"  # "numeric": every numeric and boolean datapoint; "none": only rules
    min_interval_s: float = 1.0
    deadband: float = 0.0
    points: list[dict[str, Any]] = field(default_factory=list)
    raw_days: float = 7.0
    rollup_days: float = 365.0
    rollup_s: int = 60
    max_mb: float = 1024.0
    max_series: int = 100_000
    maintenance_s: float = 60.0
    instances: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, doc: dict[str, Any] | None) -> Settings:
        doc = dict(doc or {})
        known = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc}
        return cls(**known)

    @property
    def raw_keep_ms(self) -> int:
        return int(self.raw_days * DAY_MS)

    @property
    def rollup_keep_ms(self) -> int:
        return int(self.rollup_days * DAY_MS)

    @property
    def rollup_ms(self) -> int:
        return int(self.rollup_s * 1000)

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)

    @property
    def instances_enabled(self) -> bool:
        return bool(self.instances.get("enabled", True))

    @property
    def stat_raw_keep_ms(self) -> int:
        """Instance figures: 1 s resolution for the last hour by default."""
        return int(float(self.instances.get("raw_hours", 1)) * HOUR_MS)

    @property
    def stat_rollup_keep_ms(self) -> int:
        """Instance figures: 1 min resolution for a week by default."""
        return int(float(self.instances.get("rollup_days", 7)) * DAY_MS)

    def default_rule(self) -> Rule | None:
        if self.record == "none":
            return None
        return Rule(int(self.min_interval_s * 1000), float(self.deadband))

    def rule_for(self, point: dict[str, Any]) -> Rule | None:
        """The rule of one ``points`` entry (unset fields inherit the global ones)."""
        if point.get("record", True) is False:
            return None
        return Rule(int(float(point.get("min_interval_s", self.min_interval_s)) * 1000),
                    float(point.get("deadband", self.deadband)))
