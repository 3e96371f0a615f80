"""Package layout that pyproject.toml alone cannot express: the repo's ``config/``
folder (schemas, examples, demo) ships as the ``edgeos_config`` package, and the
broker's fast path is compiled when a C compiler is there (optional: without one,
ipc/broker/fastpath.py does the same work in Python)."""

from setuptools import Extension, find_packages, setup

DATA = ("schemas", "demo", "examples")

setup(
    packages=[*find_packages(include=["supervisor*", "workers*", "ipc*", "admin_ui*"]),
              "edgeos_config", *(f"edgeos_config.{d}" for d in DATA)],
    package_dir={"edgeos_config": "config", **{f"edgeos_config.{d}": f"config/{d}"
                                               for d in DATA}},
    ext_modules=[Extension("ipc.broker._fastpath", ["ipc/broker/_fastpath.c"], optional=True)],
    package_data={**{f"edgeos_config.{d}": ["*.json"] for d in DATA},
                  "": ["*.json", "*.md", "static/*", "static/**/*"]},
)
