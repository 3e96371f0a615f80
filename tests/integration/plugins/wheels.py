"""Real plugin wheels, written by the test (a worker type with manifest and README)."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

WORKER = '''"""A counter: publishes its version and a count (a test plugin)."""
import asyncio

from edgeos.workers.runtime import Worker

VERSION = "{version}"


class CounterWorker(Worker):
    type_name = "{type_name}"

    async def run(self) -> None:
        n = 0
        while True:
            self.publish("version", VERSION)
            self.publish("count", n)
            n += 1
            await asyncio.sleep(self.config["interval_s"])  # the default is the schema's
'''

README = """# Counter

Counts. **Test plugin** for the plugin manager.

| key | meaning |
| --- | --- |
| interval_s | seconds between counts |

```python
print("code block")
```

<script>alert("no")</script>
"""


def manifest(type_name: str, version: str, **change: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": type_name, "version": version, "author": "Test Team",
        "description": "counts (a test plugin)",
        "repository": "https://example.invalid/counter",
        "dependencies": {"python": ">=3.11", "packages": []},
        "config_schema": {"type": "object", "additionalProperties": False, "properties": {
            "interval_s": {"type": "number", "minimum": 0.05, "default": 0.2}}},
        "default_limits": {"max_ram_mb": 128},
        "needs_tls": False,
    }
    doc.update(change)
    return {k: v for k, v in doc.items() if v is not None}


def build(out: Path, dist: str, version: str, *, type_name: str = "counter",
          requires: list[str] | None = None, manifest_change: dict[str, Any] | None = None
          ) -> Path:
    """Write a plugin's wheel (a zip with its ``.dist-info``, PEP 427) into ``out``: no
    build backend needed, and pip installs it like any other wheel."""
    pkg = dist.replace("-", "_")
    info = f"{pkg}-{version}.dist-info"
    files = {
        f"{pkg}/__init__.py": "",
        f"{pkg}/worker.py": WORKER.format(version=version, type_name=type_name),
        f"{pkg}/README.md": README,
        f"{pkg}/manifest.json": json.dumps(manifest(type_name, version,
                                                    **(manifest_change or {}))),
        f"{info}/METADATA": "Metadata-Version: 2.1\n"
                            f"Name: {dist}\nVersion: {version}\n"
                            + "".join(f"Requires-Dist: {r}\n" for r in requires or []),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: edgeos-tests\n"
                         "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[edgeos.workers]\n{type_name} = "
                                    f"{pkg}.worker:CounterWorker\n",
    }
    record = [f"{name},sha256={_digest(text.encode())},{len(text.encode())}"
              for name, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = out / f"{pkg}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
