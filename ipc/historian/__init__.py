"""The historian: datapoint changes and instance figures stored in ``<data>/history.db``.

Its own process (``edgeos: historian``, ``python -m edgeos.ipc.historian``) subscribes to
the broker's change feed and the supervisor's ``stats`` events, filters what it hears
(:mod:`.policy`), and writes once a second in one transaction (:mod:`.store`). Readers
(the admin UI, ``bench/history.py``) open the file read-only through :mod:`.query`;
WAL lets them read while the historian writes. See docs/history.md.
"""
