"""Shipped configuration data: JSON Schemas, examples and the demo (installed as
the ``edgeos.config`` package so the daemon finds them however it was installed)."""
