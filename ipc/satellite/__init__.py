"""Satellites: the CURVE-encrypted ZeroMQ link between a satellite and its core.

- :mod:`.keys`: the node's long-term key pair in ``<data>/keys/`` and core key pinning;
- :mod:`.trust`: the core's trust store (trusted satellite keys, pending and revoked);
- :mod:`.wire`: the messages on the link and the socket options both ends share;
- :mod:`.buffer`: the satellite's on-disk buffer (SQLite, WAL) with sequence numbers;
- :mod:`.uplink`: the satellite's ``edgeos: uplink`` process;
- :mod:`.gateway`: the core's ``edgeos: satellite-gateway`` process.
"""
