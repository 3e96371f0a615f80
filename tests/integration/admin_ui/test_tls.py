"""The admin UI over HTTPS: ``edgeos --web-certfile/--web-keyfile`` against a real daemon,
with a self-signed certificate made for the test."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
import urllib.error
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.admin_ui.web import Web, free_port
from tests.integration.daemon import Daemon, sim


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgeos test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "ui.crt", folder / "ui.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_the_ui_serves_https_with_secure_cookies(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    d = Daemon(tmp_path / "d", [sim("plc_1", rate_hz=1)], headless=False,
               extra_args=["--web-port", str(port), "--web-certfile", str(cert),
                           "--web-keyfile", str(key)])
    trust = ssl.create_default_context(cafile=str(cert))
    web = Web(f"https://127.0.0.1:{port}", tls=trust)
    try:
        d.start()
        d.wait_for(lambda: web.get("/health").status == 200, 20, "admin UI /health over TLS")
        done = d.ctl("passwd", input="correct horse battery\n")
        assert done.returncode == 0, done.stderr
        res = web.login("correct horse battery")
        assert res.status == 200
        cookie = res.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert web.get("/api/admin/instances/stats").status == 200
        # Plain HTTP on the same port gets nowhere, and an untrusting client refuses.
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            Web(f"http://127.0.0.1:{port}").get("/health")
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            Web(f"https://127.0.0.1:{port}", tls=ssl.create_default_context()).get("/health")
    finally:
        d.stop()
        d.cleanup()


def test_a_bad_certificate_stops_the_daemon_with_the_flag_named(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    d = Daemon(tmp_path / "d", [sim("plc_1")], headless=False,
               extra_args=["--web-port", str(free_port()), "--web-certfile", str(cert),
                           "--web-keyfile", str(tmp_path / "missing.key")])
    try:
        done = subprocess.run([*d.command, *d.args], capture_output=True, text=True,
                              timeout=60)
    finally:
        d.cleanup()
    assert done.returncode == 2  # as for other bad arguments
    assert "--web-certfile/--web-keyfile" in done.stderr and "missing.key" in done.stderr
