"""Where the tests find the third-party device frames: ``tests/data``, a copy of the
project's ``../shared/testdata`` (real frames with expected values, their licences in
``tests/data/LICENSES``) kept in the repo so that a clone anywhere runs the whole suite.
``tests/unit/test_testdata_copy.py`` holds the copy to the shared folder where it exists."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO / "tests" / "data"
SHARED_TESTDATA = REPO.parent / "shared" / "testdata"
