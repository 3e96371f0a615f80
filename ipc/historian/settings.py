"""``edgeos.json`` → ``history``: what to record, how often, and for how long.

The supervisor has checked the document against ``config/schemas/edgeos.schema.json``
before the historian sees it; the schema's defaults fill what it leaves out
(:mod:`edgeos.common.sections`) and this module compiles the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeos.common.sections import section

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Rule:
    """How one datapoint is recorded: ``None`` from :meth:`Settings.rule` means not at all."""

    min_interval_ms: int
    deadband: float


@dataclass
class Settings:
    """The ``history`` section, complete: what it leaves out is the schema's ``default``."""

    enabled: bool
    record: str  # "numeric": every numeric and boolean datapoint; "none": only rules
    min_interval_s: float
    deadband: float
    points: list[dict[str, Any]]
    raw_days: float
    rollup_days: float
    rollup_s: int
    max_mb: float
    max_series: int
    maintenance_s: float
    instances: dict[str, Any]

    @classmethod
    def from_dict(cls, doc: dict[str, Any] | None) -> Settings:
        return section(cls, "history", doc)

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
        return bool(self.instances["enabled"])

    @property
    def stat_raw_keep_ms(self) -> int:
        """Instance figures at 1 s resolution are kept this long."""
        return int(float(self.instances["raw_hours"]) * HOUR_MS)

    @property
    def stat_rollup_keep_ms(self) -> int:
        """Instance figures at 1 min resolution are kept this long."""
        return int(float(self.instances["rollup_days"]) * DAY_MS)

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
