"""Headless Chromium for the tests: find it (installing Debian's package when missing), dump a page's
DOM after its scripts ran, take a screenshot. Every call has its own timeout."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 90
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
)


class BrowserUnavailable(RuntimeError):
    pass


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        [*sudo, "apt-get", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )


def ensure_chromium() -> str:
    """The browser's path; Debian's `chromium` is installed first when none is found."""
    found = find_chromium()
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise BrowserUnavailable("no Chromium and no apt-get to install it with")
    install = ("install", "-y", "--no-install-recommends", "chromium")
    answer = _apt(*install)
    if answer.returncode != 0:
        _apt("update")
        answer = _apt(*install)
    found = find_chromium()
    if found is None:
        raise BrowserUnavailable(f"installing chromium failed: {answer.stderr.strip()[-400:]}")
    return found


def _url(url_or_path: str | Path) -> str:
    text = str(url_or_path)
    if "://" in text:
        return text
    return Path(text).resolve().as_uri()


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    browser = ensure_chromium()
    # a profile of its own per call: concurrent test workers never share one
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "HOME": profile},
        )


def dump_dom(url_or_path: str | Path, timeout: float = RUN_TIMEOUT) -> str:
    """The page's DOM as serialised after its load handlers ran."""
    answer = _run(["--dump-dom", _url(url_or_path)], timeout)
    if answer.returncode != 0 or not answer.stdout.strip():
        raise BrowserUnavailable(f"chromium --dump-dom failed ({answer.returncode}): {answer.stderr[-800:]}")
    return answer.stdout


def screenshot(
    url_or_path: str | Path,
    out_png: str | Path,
    width: int = 1280,
    height: int = 4000,
    timeout: float = RUN_TIMEOUT,
) -> Path:
    """A PNG of the page at `width` x `height` CSS pixels."""
    out = Path(out_png).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    answer = _run(
        ["--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={out}", _url(url_or_path)],
        timeout,
    )
    if answer.returncode != 0 or not out.exists():
        raise BrowserUnavailable(
            f"chromium --screenshot failed ({answer.returncode}): {answer.stderr[-800:]}"
        )
    return out


def page_with_console(url_or_path: str | Path, timeout: float = RUN_TIMEOUT) -> tuple[str, list[str]]:
    """The page's DOM after its load handlers ran, and every message it wrote to the console
    (errors, uncaught exceptions, logs alike: a page we serve should write none)."""
    answer = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", _url(url_or_path)], timeout)
    if answer.returncode != 0 or not answer.stdout.strip():
        raise BrowserUnavailable(f"chromium --dump-dom failed ({answer.returncode}): {answer.stderr[-800:]}")
    console = [line for line in answer.stderr.splitlines() if ":CONSOLE" in line]
    return answer.stdout, console
