"""The ``webhook`` worker type: values routed to it are sent to an HTTP endpoint."""
