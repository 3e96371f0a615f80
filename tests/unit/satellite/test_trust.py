"""The core's trust store: ids bound to keys, revocation, files written atomically."""

from __future__ import annotations

import os
import stat

import pytest
import zmq
from edgeos.ipc.satellite.keys import ensure_node_keys, load_node_keys, load_pinned_core, pin_core
from edgeos.ipc.satellite.trust import TrustError, TrustStore


def key() -> str:
    return zmq.curve_keypair()[0].decode()


def test_trust_binds_an_id_to_one_key(tmp_path) -> None:
    store = TrustStore.load(tmp_path)
    k1, k2 = key(), key()
    store.trust(k1, "sat1")
    store.trust(k1, "sat1")  # again: no change
    with pytest.raises(TrustError, match="bound to another key"):
        store.trust(k2, "sat1")
    with pytest.raises(TrustError, match="already trusted as satellite 'sat1'"):
        store.trust(k1, "sat2")
    with pytest.raises(TrustError, match="already an instance id"):
        store.trust(k2, "plc", reserved={"plc"})
    with pytest.raises(TrustError, match="satellite id"):
        store.trust(k2, "a.b")
    with pytest.raises(ValueError, match="Z85"):
        store.trust("~" * 40, "sat2")
    store.save()
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert TrustStore.load(tmp_path).id_of(k1) == "sat1"


def test_revoke_then_trust_again(tmp_path) -> None:
    store = TrustStore.load(tmp_path)
    k1 = key()
    store.trust(k1, "sat1")
    store.revoke("sat1")
    assert store.is_revoked(k1) and store.id_of(k1) is None
    with pytest.raises(TrustError, match="no trusted satellite"):
        store.revoke("sat1")
    store.trust(k1, "sat1")
    assert not store.is_revoked(k1)


def test_node_keys_are_private(tmp_path) -> None:
    public = ensure_node_keys(tmp_path)
    assert len(public) == 40
    assert ensure_node_keys(tmp_path) == public  # made once
    kdir = tmp_path / "keys"
    assert stat.S_IMODE(os.stat(kdir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(kdir / "node.key_secret").st_mode) == 0o600
    assert load_node_keys(tmp_path)[0] == public
    # every file 0600 like the rest of the data dir: the start-up check finds nothing
    pin_core(tmp_path, public)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in kdir.iterdir()} == {
        "node.key": 0o600, "node.key_secret": 0o600, "core.pub": 0o600}
    assert load_pinned_core(tmp_path) == public


def test_a_pin_before_the_node_keys_makes_the_private_keys_dir(tmp_path) -> None:
    """A first start pins --core-key before the validation helper makes the key pair
    (supervisor/cli.py): the pin makes ``keys/`` itself, the key pair joins it."""
    key = zmq.curve_keypair()[0]
    pin_core(tmp_path, key)
    kdir = tmp_path / "keys"
    assert stat.S_IMODE(os.stat(kdir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(kdir / "core.pub").st_mode) == 0o600
    assert load_pinned_core(tmp_path) == key
    ensure_node_keys(tmp_path)
    assert sorted(p.name for p in kdir.iterdir()) == ["core.pub", "node.key", "node.key_secret"]
