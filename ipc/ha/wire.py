"""The mirror link's messages: a standby's DEALER to the primary's satellite ROUTER.

The standby's key is trusted on the primary as kind ``standby`` (``edgectl ha trust``);
the gateway hands every message of such a key to :class:`~edgeos.ipc.ha.source.
MirrorSource`. Every message is ``[kind, body]`` with a msgpack body.

standby -> primary
  M_HELLO  ``{"name", "role", "epoch", "listen", "sat_hwm"}`` after each handshake, and
           once a second while not welcomed; ``sat_hwm``: what it holds of each
           satellite (its gateway's high-water marks at the start of the link, then as
           the batches it applied said), so a re-join keeps its record and a core that
           handed over is mirrored nothing it published itself. A core that says
           ``role: active`` with a higher epoch than the primary's fences it: the
           primary demotes itself to its standby.
  M_ACK    ``{"seq", "dp"}``: value batches applied up to ``seq`` (``dp`` datapoints).
  M_PING   ``{"t"}`` once a second.
  M_HANDOVER ``{"reason"}``: ``edgectl ha promote`` on the standby: the primary hands
           over as for ``ha demote`` (quiesce, wait until mirrored, M_TAKEOVER).
primary -> standby
  M_WELCOME ``{"epoch", "role"}``, then M_FILES and the values snapshot.
  M_FILES   ``{"files": {name: text or None}}``: mirrored files that changed (None: gone).
  M_VALUES  ``{"seq", "dp", "batches": [[source, [item, ...]], ...], "sat_hwm",
            "snapshot"}``: last values, in order; ``dp`` is the primary's running count
            including this batch; ``sat_hwm`` satellite id -> [buffer epoch, sequence]
            the standby holds with this batch (its claim: ipc/ha/claims.py);
            ``snapshot``: the values are state (the last value of each), not changes:
            stored, not put on the change feed.
  M_PONG    ``{"t", "epoch", "role", "lag_dp", "lag_s"}``: the primary's view of the lag.
  M_TAKEOVER ``{"reason", "epoch", "sat_hwm"}``: planned switch-over (``edgectl ha
            demote`` on the primary): the standby promotes itself. ``sat_hwm``: what
            the primary took of each satellite, all of which it published: the standby
            takes it as its high-water marks first, so a value the standby lacks (in
            flight when its link restarted) is not taken twice when the satellite
            resends it; it is then in the old primary's record only.
  M_FENCED  ``{"epoch", "reason"}``: refused: this core is not (or no longer) the one
            to mirror from (``stale_epoch``).
  M_REJOIN  ``{"reason"}``: the standby acknowledged nothing for ``HOLD_S``: the primary
            stopped waiting for it; it HELLOs again (its record starts over).
"""

from __future__ import annotations

M_HELLO = b"m-hello"
M_ACK = b"m-ack"
M_PING = b"m-ping"
M_WELCOME = b"m-welcome"
M_FILES = b"m-files"
M_VALUES = b"m-values"
M_PONG = b"m-pong"
M_FENCED = b"m-fenced"
M_TAKEOVER = b"m-takeover"
M_HANDOVER = b"m-handover"
M_REJOIN = b"m-rejoin"
KINDS = frozenset({M_HELLO, M_ACK, M_PING, M_HANDOVER})

#: mirrored files: (dir, name); "config" is the config dir, "data" the data dir
CONFIG_FILES = ("connections.json", "routing.json", "widgets.json", "edgeos.json")
DATA_FILES = ("auth.json", "satellites.json", "remote_clients.json")
MAX_FILE_BYTES = 16 << 20
VALUES_MAX = 2000  # datapoints per M_VALUES
VALUES_FLUSH_S = 0.05
WINDOW = 200  # M_VALUES sent and not yet acknowledged; beyond it the standby resyncs
STALE_EPOCH = "stale_epoch"
