"""Access to the libmbus test frames (tests/data/mbus: see :mod:`tests.paths`)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tests.paths import TESTDATA

MBUS_TESTDATA = TESTDATA / "mbus"


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
