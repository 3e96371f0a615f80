"""Plugin READMEs as safe HTML, and wheel uploads for the plugin manager.

Everything else about plugins (listing, installing, enabling) belongs to the
supervisor (:mod:`edgeos.supervisor.plugins`), which the UI asks through its control
commands: one registry, refreshed where it lives, instead of a stale copy per process.
Markdown is rendered here on the server with markdown-it-py (CommonMark plus tables,
raw HTML off) and the result sanitised with nh3, so a plugin's README cannot run
script in the admin's browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import nh3
from markdown_it import MarkdownIt

UPLOADS = Path("plugins") / ".uploads"
MAX_WHEEL_BYTES = 20 * 1024 * 1024
# name-version(-build)?-python-abi-platform.whl (PEP 427), nothing that could be a path
WHEEL_NAME_RE = re.compile(r"^[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+(-[A-Za-z0-9_.]+)?"
                           r"-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+\.whl$")

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "code": {"class"}, "th": {"style"}, "td": {"style"}}


def render_readme(markdown: str) -> str:
    """Markdown -> sanitised HTML (tables and code blocks kept, scripts and handlers not)."""
    return nh3.clean(_md.render(markdown), attributes=_ATTRIBUTES,
                     link_rel="noopener noreferrer nofollow")


def save_upload(data_dir: Path, filename: str, body: bytes) -> Path:
    """Keep an uploaded wheel where the supervisor can install it from (0600); earlier
    uploads are removed. Raises ValueError naming what is wrong."""
    if not WHEEL_NAME_RE.match(filename):
        raise ValueError(f"filename {filename!r} is not a wheel's name "
                         f"(name-version-python-abi-platform.whl)")
    if not body or len(body) > MAX_WHEEL_BYTES:
        raise ValueError(f"a wheel of 1 byte to {MAX_WHEEL_BYTES // 2**20} MiB is expected")
    if not body.startswith(b"PK"):
        raise ValueError("the upload is not a zip file (a wheel is one)")
    folder = data_dir / UPLOADS
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for old in folder.iterdir():
        old.unlink()
    path = folder / filename
    path.write_bytes(body)
    path.chmod(0o600)
    return path
