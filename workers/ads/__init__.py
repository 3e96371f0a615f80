"""The ``ads`` worker type: Beckhoff TwinCAT PLCs over ADS (pyads).

Kept free of imports: the supervisor reads ``manifest.json`` from this package without
loading pyads or its native library.
"""
