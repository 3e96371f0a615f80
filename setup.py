"""Package layout that pyproject.toml alone cannot express: the repo's ``config/``
folder (schemas, examples, demo) ships as the ``edgeos_config`` package."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["supervisor*", "workers*", "ipc*", "admin_ui*"]),
              "edgeos_config"],
    package_dir={"edgeos_config": "config"},
    package_data={"edgeos_config": ["schemas/*.json", "demo/*.json", "examples/*.json"],
                  "": ["*.json", "*.md", "static/*", "static/**/*"]},
)
