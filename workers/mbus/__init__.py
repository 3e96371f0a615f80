"""Wired M-Bus: telegram decoder, serial master and a meter emulator.

Import-light on purpose: only the stdlib decoder is loaded here; `master` and
`emulator` (which need pyserial or a pty) are imported explicitly by who needs them.
"""

from edgeos.workers.mbus.decoder import DecodeError, decode

__all__ = ["DecodeError", "decode"]
