"""The first workers of a daemon start are forked from their template, not exec'd.

The template of a type is started beside the broker; on a loaded or slow host it can
still be importing the type's module when the workers start. A worker exec'd then
shares none of the template's pages (on a satellite, 12 MB PSS instead of 8: the
difference between the four processes being over or under 40 MB, issue 16). A worker
asked for while its template is starting waits for the template instead.
Read back from /proc: a forked worker's stdin is /dev/null (the template's child
opens it); an exec'd one reads its spec from a pipe.
"""

from __future__ import annotations

from tests.integration.daemon import sim
from tests.integration.enforcement.test_forkserver import fd_targets


def test_first_workers_are_forked(daemon_factory) -> None:
    d = daemon_factory([sim("a"), sim("b"), sim("c")]).start()
    pids = {iid: d.instance(iid)["pid"] for iid in ("a", "b", "c")}
    stdin = {iid: fd_targets(pid)[0] for iid, pid in pids.items()}
    assert stdin == dict.fromkeys(pids, "/dev/null"), stdin  # none exec'd at start
    assert d.stop() == 0


def test_exec_reads_its_spec_from_a_pipe(daemon_factory) -> None:
    """The measure above tells the two apart (with the forkserver off, all exec'd)."""
    d = daemon_factory([sim("a")], env={"EDGEOS_FORKSERVER": "off"}).start()
    assert fd_targets(d.instance("a")["pid"])[0].startswith("pipe:")
    assert d.stop() == 0
