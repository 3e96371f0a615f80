"""The admin web UI and HTTP API (``edgeos: admin-ui``), a client of the supervisor
and the broker."""
