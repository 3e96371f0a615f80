"""Connections: TLS and passwords, the bridge's birth and last will."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.integration.daemon import sim
from tests.integration.mqtt.mosquitto import Mosquitto
from tests.integration.support import wait_until


def make_tls_broker(root: Path) -> tuple[Mosquitto, Path]:
    root.mkdir(parents=True)
    cert, key, passwords = root / "cert.pem", root / "key.pem", root / "passwords"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "edge", "s3cret"],
                   check=True, capture_output=True)
    broker = Mosquitto(root / "broker", anonymous=False, listener_options=[
        f"certfile {cert}", f"keyfile {key}", f"password_file {passwords}"])
    return broker.start(), cert


def test_tls_with_username_and_password(daemon_factory, tmp_path) -> None:
    broker, cert = make_tls_broker(tmp_path / "tls")
    try:
        base = {"host": "127.0.0.1", "port": broker.port, "tls": {"ca_certs": str(cert)},
                "username": "edge", "protocol": "5", "subscribe": ["t/#"], "qos": 1,
                "reconnect_min_s": 0.2, "reconnect_max_s": 0.5}
        d = daemon_factory([
            {"id": "secure", "type": "mqtt", "config": {**base, "password": "s3cret"}},
            {"id": "wrong", "type": "mqtt", "config": {**base, "password": "guess"}},
            {"id": "plain", "type": "mqtt", "config": {**base, "tls": False,
                                                       "password": "s3cret"}},
        ]).start()
        d.wait_for(lambda: d.instance("secure")["bus"].get("connected"), 10, "TLS connection")
        # a command goes out over TLS and comes back through the subscription
        d.call("set", address="secure.t/x", value=5)
        d.wait_for(lambda: d.call("get", address="secure.t/x")["value"] == 5, 10, "echo")
        assert d.call("get", address="secure.t/x")["ack"] is True
        assert d.instance("secure")["bus"]["protocol"] == "5"
        # a wrong password is refused; plain TCP cannot talk to a TLS listener
        wrong = d.wait_for(lambda: (i := d.instance("wrong"))["last_error"] and i, 10, "refusal")
        assert not wrong["bus"]["connected"] and "refused" in wrong["last_error"]
        plain = d.wait_for(lambda: (i := d.instance("plain"))["bus"].get("packets_sent") == 0
                           and i["bus"].get("connected") is False and i, 10, "plain")
        assert plain["status"] == "running"  # it keeps trying with back-off
    finally:
        broker.stop()


def test_bridge_availability_birth_last_will_and_clean_stop(daemon_factory, mosquitto,
                                                            watch) -> None:
    d = daemon_factory([sim("plc_1", "plc", rate_hz=5),
                        {"id": "bridge", "type": "mqtt_bridge",
                         "config": {"host": "127.0.0.1", "port": mosquitto.port,
                                    "discovery": False}}]).start()
    w = watch(mosquitto.port, ["smarthome/bridge/availability"])
    topic = "smarthome/bridge/availability"
    wait_until(lambda: w.latest().get(topic) == b"online", 10, "birth")
    pid = d.instance("bridge")["pid"]
    w.clear()
    os.kill(pid, signal.SIGKILL)  # no goodbye: the broker publishes the last will
    # (the restarted bridge may say online again before this looks: the will is in order)
    wait_until(lambda: b"offline" in [p for p, _ in w.on(topic)], 10, "last will")
    d.wait_for(lambda: (i := d.instance("bridge"))["status"] == "running" and i["pid"] != pid,
               15, "restarted")
    wait_until(lambda: [p for p, _ in w.on(topic)][-1] == b"online", 10, "online again")
    assert d.ctl("stop", "bridge").returncode == 0  # a clean stop says offline itself
    wait_until(lambda: w.latest().get(topic) == b"offline", 10, "offline on stop")
