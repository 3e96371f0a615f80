"""High availability: a standby core that mirrors the primary and takes over, fenced by
an epoch so that nothing is actuated by two cores (docs/high-availability.md)."""
