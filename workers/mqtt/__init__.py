"""The ``mqtt`` worker type: any MQTT broker's topics as datapoints, commands as publishes.

Kept import-light: the supervisor reads ``manifest.json`` without importing paho.
"""
