"""The node's long-term CURVE key pair and the pinned core key (CONTRACT section 8).

``<data>/keys/`` (0700) holds ``node.key`` (public) and ``node.key_secret``, made at
first start with :func:`zmq.auth.create_certificates`; a satellite
also keeps the core's public key it pinned in ``core.pub``. Every file is 0600 like the
rest of the data dir (the start-up check would tighten anything wider, with a warning);
only public halves ever leave this directory, through ``edgectl node-key``.
"""

from __future__ import annotations

import os
from pathlib import Path

import zmq
import zmq.utils.z85

KEYS_DIR = "keys"
NODE = "node"
CORE_PIN = "core.pub"
KEY_LEN = 40  # Z85 of 32 bytes


class KeyFileError(Exception):
    """A key file that is missing, unreadable or malformed; the message names it."""


def require_curve() -> None:
    """Stop with a clear message when libzmq was built without CURVE."""
    if not zmq.has("curve"):
        raise KeyFileError(f"libzmq {zmq.zmq_version()} has no CURVE support (zmq.has('curve') "
                        "is false): install a pyzmq/libzmq built with libsodium")


def check_key(text: str, what: str = "key") -> bytes:
    """A Z85 public key (40 characters) as bytes; ValueError names ``what``."""
    text = text.strip()
    if len(text) != KEY_LEN:
        raise ValueError(f"{what} must be a Z85 public key of {KEY_LEN} characters, "
                         f"got {len(text)}: {text[:60]!r}")
    try:
        raw = zmq.utils.z85.decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError, KeyError):
        raise ValueError(f"{what} is not valid Z85: {text!r}") from None
    if len(raw) != 32:
        raise ValueError(f"{what} does not decode to 32 bytes: {text!r}")
    return text.encode("ascii")


def fingerprint(public: bytes | str) -> str:
    """A short, stable fingerprint of a public key (for mDNS TXT and listings)."""
    key = public.encode() if isinstance(public, str) else public
    return _sha256_hex(key)[:16]


def _sha256_hex(data: bytes) -> str:
    """SHA-256 from CPython's own module where it has one: ``hashlib`` would load
    OpenSSL's libcrypto, ~1.7 MB of a satellite supervisor's memory once it answered
    ``node-key`` (issue 16); the digest is the same."""
    try:
        from _sha256 import sha256  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[no-redef]  # CPython >= 3.12
        except ImportError:  # a build without them
            from hashlib import sha256
    return sha256(data).hexdigest()


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / KEYS_DIR


def ensure_node_keys(data_dir: Path) -> bytes:
    """Make the key pair on first start (dir 0700, secret 0600); returns the public key."""
    require_curve()
    kdir = keys_dir(data_dir)
    kdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(kdir, 0o700)
    secret = kdir / f"{NODE}.key_secret"
    if not secret.exists():
        old = os.umask(0o077)
        try:
            import zmq.auth  # only where a key file is made or read: load_node_keys

            zmq.auth.create_certificates(kdir, NODE)
        finally:
            os.umask(old)
    os.chmod(kdir / f"{NODE}.key", 0o600)
    os.chmod(secret, 0o600)
    return load_node_keys(data_dir)[0]


def load_node_keys(data_dir: Path) -> tuple[bytes, bytes]:
    """(public, secret) Z85 keys of this node. ``zmq.auth`` (with ``glob`` and its
    certificate parser, ~0.1 MB of objects) is imported only where a key file is read
    or made: the supervisor has the validation helper check the keys at start
    (:func:`edgeos.supervisor.validator_process.answer`), so an idle node that runs no
    CURVE link never holds it (issue 16)."""
    import zmq.auth

    secret = keys_dir(data_dir) / f"{NODE}.key_secret"
    try:
        public, private = zmq.auth.load_certificate(secret)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{secret}: cannot load the node key: {exc}") from None
    if private is None:
        raise KeyFileError(f"{secret}: holds no secret key")
    return public, private


def load_pinned_core(data_dir: Path) -> bytes | None:
    """The core key this satellite pinned on first use, if any."""
    path = keys_dir(data_dir) / CORE_PIN
    if not path.exists():
        return None
    try:
        return check_key(path.read_text(encoding="ascii"), str(path))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def pin_core(data_dir: Path, key: bytes) -> None:
    """Pin the core's public key."""
    write_pin(keys_dir(data_dir) / CORE_PIN, key)


def write_pin(path: Path, key: bytes) -> None:
    """Write a pinned public key: atomic, 0600 from the start. The keys dir is made
    here if missing: a first start pins ``--core-key`` / ``--primary-key`` before the
    validation helper makes the node's key pair (supervisor/cli.py)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.decode("ascii") + "\n")
    os.replace(tmp, path)
