"""``smarthome-in`` promises the pattern syntax of routing.json: the palette's matcher
(run in Node.js) must agree with the core's own (edgeos.ipc.routing.patterns) on every case, and
the prefix it asks the core for must select everything the pattern matches."""

from __future__ import annotations

import json
import random
import subprocess

from edgeos.ipc.routing.patterns import PatternIndex, pattern_problem

from tests.integration.nodered.nodered import PALETTE_DIR, require_tools

SEGMENTS = ["a", "b", "plc_001", "MAIN", "cells", "1", "12", "fTemp"]
JUDGE = """
const {compile, problem} = require(process.argv[1]);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(([pattern, address]) => {
    const why = problem(pattern);
    if (why) return {problem: why};
    const m = compile(pattern);
    return {match: m.test(address), prefix: m.prefix};
});
process.stdout.write(JSON.stringify(out));
"""


def judge(cases: list[tuple[str, str]]) -> list[dict[str, object]]:
    require_tools()
    done = subprocess.run(["node", "-e", JUDGE, str(PALETTE_DIR / "lib" / "pattern.js")],
                          input=json.dumps(cases), capture_output=True, text=True,
                          timeout=30, check=True)
    return json.loads(done.stdout)


def instantiate(rng: random.Random, pattern: list[str]) -> list[str]:
    """An address the pattern matches: wildcards filled with random segments."""
    out: list[str] = []
    for segment in pattern:
        if segment == "*":
            out.append(rng.choice(SEGMENTS))
        elif segment == "**":
            out += [rng.choice(SEGMENTS) for _ in range(rng.randint(0, 2))]
        else:
            out.append(segment)
    return out


def random_cases(n: int) -> list[tuple[str, str]]:
    """Patterns with addresses made from them (half of them then changed in one segment)
    or drawn freely; a datapoint address always has two segments at least."""
    rng = random.Random(20240601)
    cases = []
    while len(cases) < n:
        pattern = [rng.choice(SEGMENTS),
                   *(rng.choice([*SEGMENTS, "*", "**"]) for _ in range(rng.randint(0, 4)))]
        if rng.random() < 0.3:
            address = [rng.choice(SEGMENTS) for _ in range(rng.randint(2, 6))]
        else:
            address = instantiate(rng, pattern)
            if rng.random() < 0.5:
                address[rng.randrange(len(address))] = rng.choice(SEGMENTS)
        if len(address) >= 2:
            cases.append((".".join(pattern), ".".join(address)))
    return cases


def test_matches_like_the_core_router() -> None:
    cases = [("plc_001.**.fTemp", "plc_001.fTemp"), ("plc_001.**.fTemp", "plc_001.a.b.fTemp"),
             ("plc_001.*", "plc_001.MAIN.fTemp"), ("a.b", "a.bc"), ("a.**", "a.b.c"),
             *random_cases(3000)]
    results = judge(cases)
    matched = 0
    for (pattern, address), got in zip(cases, results, strict=True):
        want = bool(PatternIndex([(0, pattern)]).match(address))
        assert got.get("match") == want, (pattern, address, got)
        assert not want or address.startswith(str(got["prefix"])), (pattern, address, got)
        matched += want
    assert 300 < matched < len(cases) - 300  # both outcomes are well represented


def test_refuses_what_the_core_refuses() -> None:
    bad = ["a..b", "a.b*", "a.*x", "a b", "", "*.soc", "**"]
    results = judge([(p, "a.b") for p in bad])
    for pattern, got in zip(bad, results, strict=True):
        assert "problem" in got, pattern
        # the core accepts a leading wildcard; the live socket cannot (it needs a prefix)
        assert pattern_problem(pattern) is not None or pattern.startswith("*") or not pattern
