"""Package layout that pyproject.toml alone cannot express.

The repository's top-level folders install under one namespace, ``edgeos``
(``supervisor/`` -> ``edgeos.supervisor`` and so on, ``config/`` with its schemas,
examples and demo -> ``edgeos.config``), and the broker's fast path is compiled when a
C compiler is there (optional: without one, ipc/broker/fastpath.py does the same work
in Python)."""

from setuptools import Extension, find_namespace_packages, find_packages, setup

FOLDERS = ("supervisor", "ipc", "workers", "admin_ui", "common")
DATA = ("schemas", "demo", "examples")

packages = ["edgeos", "edgeos.config", *(f"edgeos.config.{d}" for d in DATA)]
package_dir = {"edgeos": "edgeos", "edgeos.config": "config",
               **{f"edgeos.config.{d}": f"config/{d}" for d in DATA}}
for folder in FOLDERS:
    for sub in ["", *(f".{p}" for p in find_packages(where=folder))]:
        packages.append(f"edgeos.{folder}{sub}")
        package_dir[f"edgeos.{folder}{sub}"] = folder + sub.replace(".", "/")
# The admin UI's static folders are data, but setuptools warns about every folder with
# an importable name that is not a package: list them as (namespace) packages with all
# their files.
STATIC = [f"static.{p}" for p in find_namespace_packages(where="admin_ui/static")]
for sub in ["static", *STATIC]:
    packages.append(f"edgeos.admin_ui.{sub}")
    package_dir[f"edgeos.admin_ui.{sub}"] = "admin_ui/" + sub.replace(".", "/")

setup(
    packages=packages,
    package_dir=package_dir,
    ext_modules=[Extension("edgeos.ipc.broker._fastpath", ["ipc/broker/_fastpath.c"],
                           optional=True)],
    package_data={**{f"edgeos.config.{d}": ["*.json"] for d in DATA},
                  **{f"edgeos.admin_ui.{sub}": ["*"] for sub in ["static", *STATIC]},
                  "": ["*.json", "*.md"]},
)
