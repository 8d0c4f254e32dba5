"""open_storage: finding backends by URL scheme, clear errors, register(), broken plug-ins."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from bassline_storage_memory import MemoryStorage

from bassline.errors import PluginNotFound
from bassline.storage import (
    NetworkStorage,
    available_schemes,
    backends,
    mask_url,
    open_storage,
    register,
)

_schemes = itertools.count()


def _fresh_scheme() -> str:
    return f"test-scheme-{next(_schemes)}"


def test_installed_backends_are_found_by_scheme() -> None:
    assert "memory" in available_schemes()
    assert isinstance(open_storage("memory://"), MemoryStorage)
    assert isinstance(open_storage("MEMORY://"), MemoryStorage), "schemes are case-insensitive"


@pytest.mark.parametrize(("url", "suggestion"), [("memroy://x", "memory"), ("mem://", "memory")])
def test_an_unknown_scheme_lists_installed_ones_and_suggests_the_closest(
    url: str, suggestion: str
) -> None:
    with pytest.raises(PluginNotFound) as caught:
        open_storage(url)
    error = caught.value
    assert error.kind == "storage scheme" and error.suggestion == suggestion
    assert "memory" in error.available
    assert f"did you mean '{suggestion}'?" in str(error)
    assert "installed: " in str(error) and "memory" in str(error)


def test_an_unknown_scheme_with_nothing_close_still_lists_what_is_installed() -> None:
    with pytest.raises(PluginNotFound) as caught:
        open_storage("zzzzzz://x")
    assert caught.value.suggestion is None and "memory" in caught.value.available


def test_errors_never_show_a_password() -> None:
    with pytest.raises(PluginNotFound) as caught:
        open_storage("postgresq://user:hunter2@db.example/bassline")
    assert "hunter2" not in str(caught.value)
    assert mask_url("postgresql://user:hunter2@db:5432/x") == "postgresql://user:***@db:5432/x"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://[::1/x", "postgresql://[::1/x"),
        ("postgresql://u:hunter2@[::1/x", "postgresql://u:***@[::1/x"),
        ("postgresql://u:hun@ter@[::1", "postgresql://u:***@[::1"),
    ],
)
def test_a_url_that_does_not_parse_is_shown_without_its_password(url: str, shown: str) -> None:
    """It was shown as '<malformed URL>', whatever it was: ``malformed storage URL
    '<malformed URL>': Invalid IPv6 URL`` left the user to guess which."""
    assert mask_url(url) == shown
    with pytest.raises(ValueError) as caught:
        open_storage(url)
    assert str(caught.value) == f"malformed storage URL {shown!r}: Invalid IPv6 URL"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "expected scheme://"),
        ("memory", "expected scheme://"),
        ("memory:/x", "expected scheme://"),
        ("/var/lib/bassline", "expected scheme://"),
        ("://x", "no scheme"),
        ("http://[::1", "Invalid IPv6 URL"),
        (42, "expected scheme://"),
        (None, "expected scheme://"),
    ],
)
def test_malformed_urls_are_value_errors(url: Any, message: str) -> None:
    with pytest.raises(ValueError, match="malformed storage URL") as caught:
        open_storage(url)
    assert message in str(caught.value)


def test_register_makes_a_factory_open_its_scheme() -> None:
    scheme = _fresh_scheme()
    seen: list[tuple[str, dict[str, Any]]] = []

    def factory(url: str, **options: Any) -> NetworkStorage:
        seen.append((url, options))
        return open_storage("memory://")

    register(scheme, factory)
    try:
        assert scheme in available_schemes()
        storage = open_storage(f"{scheme}://somewhere/else?x=1", pool_size=3)
        assert isinstance(storage, MemoryStorage)
        assert seen == [(f"{scheme}://somewhere/else?x=1", {"pool_size": 3})]
        with pytest.raises(ValueError, match="already registered; pass replace=True"):
            register(scheme, lambda url, **o: open_storage("memory://"))
        register(scheme, factory, replace=True)
        register(scheme, factory)  # the same factory again is harmless
    finally:
        backends.unregister(scheme)
    assert scheme not in available_schemes()


def test_register_lowercases_the_scheme() -> None:
    scheme = _fresh_scheme()
    register(scheme.upper(), lambda url, **options: open_storage("memory://"))
    try:
        assert scheme in available_schemes()
        assert isinstance(open_storage(f"{scheme.upper()}://"), MemoryStorage)
    finally:
        backends.unregister(scheme)


_PLUGINS = {
    "broken_backend.py": """
        raise ImportError("broken_backend needs the 'quantum-db' driver, which is not installed")
    """,
    "working_backend.py": """
        from bassline_storage_memory import open_memory_storage

        def open_working(url, **options):
            return open_memory_storage("memory://working-plugin")
    """,
    "notcallable_backend.py": """
        open_thing = 42
    """,
}

_PROBE = """
import json
from bassline.plugins import PluginLoadError
from bassline.storage import available_schemes, open_storage

out = {"schemes": available_schemes()}
for scheme in ("broken", "notcallable"):
    try:
        open_storage(scheme + "://x")
        out[scheme] = "opened"
    except (PluginLoadError, TypeError) as exc:
        out[scheme] = type(exc).__name__ + ": " + str(exc)
out["working"] = type(open_storage("working://x")).__name__
out["memory"] = type(open_storage("memory://")).__name__
try:
    open_storage("brokn://x")
except LookupError as exc:
    out["typo"] = str(exc)
print(json.dumps(out))
"""


def _install_plugins(site: Path) -> None:
    dist = site / "bassline_test_plugins-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: bassline-test-plugins\nVersion: 0.0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[bassline.storage]\n"
        "broken = broken_backend:open_broken\n"
        "working = working_backend:open_working\n"
        "notcallable = notcallable_backend:open_thing\n"
    )
    for name, source in _PLUGINS.items():
        (site / name).write_text(textwrap.dedent(source))


def test_a_backend_that_fails_to_import_reports_its_own_error_and_breaks_nothing(
    tmp_path: Path,
) -> None:
    _install_plugins(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert {"broken", "working", "notcallable", "memory"} <= set(out["schemes"])
    assert out["broken"].startswith("PluginLoadError: storage scheme plug-in 'broken'")
    assert "broken_backend:open_broken" in out["broken"]
    assert "needs the 'quantum-db' driver" in out["broken"]
    assert out["notcallable"].startswith("TypeError: storage entry point must be a factory")
    assert out["working"] == "MemoryStorage" and out["memory"] == "MemoryStorage"
    assert "did you mean 'broken'?" in out["typo"] and "working" in out["typo"]
