"""Child process for the fs tests: run the ``bassline`` command line, as ``nobody`` if asked.

Usage: ``python cli_child.py [--as-uid=N] ARG ...``. Every module of the command line and
of the file backend is imported first, while the (possibly root-only) environment is still
readable; then privileges are dropped and the command runs (its exit status is this
process's).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import zoneinfo  # noqa: F401 - imported lazily by the command line

import bassline_storage_fs
from child_privileges import drop_privileges_if_asked

import bassline.cli
from bassline.cli.app import entry_point

if __name__ == "__main__":
    for package in (bassline.cli, bassline_storage_fs):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith("__main__"):  # which would run the command line
                importlib.import_module(module.name)
    drop_privileges_if_asked()
    sys.argv = ["bassline", *sys.argv[1:]]
    entry_point()
