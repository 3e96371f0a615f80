"""The ``simulator`` worker type: realistic demo devices and provoked misbehaviour."""
