"""Pieces every package may import (issue 14 item 2): JSON Schemas with their
defaults, size and count bounds of input, the users/tokens store and JSON config
files. It imports nothing of ``supervisor``, ``workers`` or ``admin_ui`` (only ``ipc``,
the base), so sharing them makes no package reach into another."""
