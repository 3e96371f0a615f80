"""A key's fingerprint (``edgectl node-key``, mDNS, listings) is SHA-256 as before, and
computing it loads no OpenSSL (issue 16: libcrypto was ~1.7 MB of a satellite
supervisor once it answered ``node-key``). The second check runs in a fresh interpreter
and reads its own memory map."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import zmq
from edgeos.ipc.satellite.keys import fingerprint

PROBE = """\
import sys
from edgeos.ipc.satellite.keys import fingerprint
print(fingerprint(sys.argv[1]))
with open("/proc/self/maps") as maps:
    print(any("libcrypto" in line for line in maps), "_hashlib" in sys.modules)
"""


def test_fingerprint_is_the_sha256_prefix() -> None:
    public, _ = zmq.curve_keypair()
    assert fingerprint(public) == hashlib.sha256(public).hexdigest()[:16]
    assert fingerprint(public.decode()) == fingerprint(public)


def test_fingerprint_maps_no_openssl() -> None:
    public = zmq.curve_keypair()[0].decode()
    done = subprocess.run([sys.executable, "-c", PROBE, public], capture_output=True,
                          text=True, check=True)
    digest, mapped = done.stdout.splitlines()
    assert digest == hashlib.sha256(public.encode()).hexdigest()[:16]
    assert mapped == "False False"
