"""Access to the shared libmbus test frames (../shared/testdata/mbus beside the repo)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MBUS_TESTDATA = REPO.parent / "shared" / "testdata" / "mbus"


def frame_names() -> list[str]:
    names = sorted(p.name.removesuffix(".hex") for p in MBUS_TESTDATA.glob("*.hex"))
    assert names, f"no M-Bus test frames in {MBUS_TESTDATA}"
    return names


def load_frame(name: str) -> bytes:
    return bytes.fromhex((MBUS_TESTDATA / f"{name}.hex").read_text())


def load_norm_xml(name: str) -> ET.Element:
    """libmbus's normalised XML; declared ISO-8859-1 but really UTF-8 (see README)."""
    text = (MBUS_TESTDATA / f"{name}.norm.xml").read_bytes().decode("utf-8")
    return ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", text.lstrip()))
