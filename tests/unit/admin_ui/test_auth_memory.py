"""A password check must not leave scrypt's 16 MiB work area resident: the supervisor
(first start, ``passwd``) and the admin UI (every login) live for months."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import hashlib, hmac, secrets  # what the checks import lazily: their pages are not the area
from edgeos.common.auth import hash_password, verify_password

def rss_kb():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])

before = rss_kb()
record = hash_password('correct horse battery')
assert verify_password('correct horse battery', record)
assert not verify_password('wrong', record)
print(rss_kb() - before)
"""


def test_scrypt_work_area_is_given_back() -> None:
    # a fresh interpreter: the figure is this process's own, nothing else ran in it
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=60)
    grown_kb = int(out.stdout.split()[-1])
    assert grown_kb < 4 * 1024, f"{grown_kb} kB still resident after three scrypt runs"
