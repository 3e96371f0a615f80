"""The repo's copy of the device frames is the shared folder's, file for file, where
that folder sits beside the repo (a clone elsewhere has only the copy)."""

from __future__ import annotations

import pytest

from tests.paths import SHARED_TESTDATA, TESTDATA


def files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_copy_is_the_shared_testdata() -> None:
    if not SHARED_TESTDATA.is_dir():
        pytest.skip(f"no {SHARED_TESTDATA} beside this clone: only the copy is here")
    assert files(TESTDATA) == files(SHARED_TESTDATA)
