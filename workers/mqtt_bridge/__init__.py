"""The ``mqtt_bridge`` worker type: the whole datapoint space on MQTT, with Home Assistant
discovery and an offline queue. Kept import-light for the supervisor."""
