"""Packaging that pyproject.toml cannot say on its own: the top-level notebooks/ folder (the one
users open in JupyterLab) is shipped inside the wheel as the package ``runbook_lib.notebooks``."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["runbook_lib", "runbook_lib.*"]) + ["runbook_lib.notebooks"],
    package_dir={"runbook_lib.notebooks": "notebooks"},
)
