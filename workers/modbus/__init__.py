"""The ``modbus`` worker type: Modbus TCP and RTU devices through a register map.

Import-light on purpose: the supervisor reads ``manifest.json`` from this package
without importing pymodbus or pyserial.
"""
