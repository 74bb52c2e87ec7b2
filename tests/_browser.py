"""Headless Chromium for tests that look at a page as a reader's browser builds it (Debian's
`chromium`; CI installs it, elsewhere the test is skipped when it is missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    """The browser's path; fails in CI and skips elsewhere when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("no chromium on this machine")
    return found


def dump_dom(page: Path, profile: Path) -> tuple[str, str]:
    """The page's DOM after its scripts ran (and chromium's stderr, for failure messages)."""
    out = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    return out.stdout, out.stderr
