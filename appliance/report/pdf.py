"""PDF output through a local headless Chromium (``--print-to-pdf``); no renderer, no PDF.

Chromium runs with networking, sync and component updates off and a throw-away profile, on the
self-contained HTML file, so printing cannot reach anything outside the host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from appliance.errors import ApplianceError, MissingComponent

CANDIDATES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "headless_shell",
)
ENV_BROWSER = "APPLIANCE_CHROMIUM"


def find_chromium() -> str | None:
    """Path of a Chromium-family browser: ``$APPLIANCE_CHROMIUM`` or the first on PATH."""
    env = os.environ.get(ENV_BROWSER)
    if env and Path(env).is_file() and os.access(env, os.X_OK):
        return env
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def headless_args(profile: Path) -> list[str]:
    """Flags that keep a headless Chromium offline, sandbox-free (root in containers) and quiet."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--metrics-recording-only",
        "--mute-audio",
        f"--user-data-dir={profile}",
    ]


def print_pdf(html_path: Path, pdf_path: Path, timeout: float = 120) -> Path:
    """Render ``html_path`` to ``pdf_path`` with headless Chromium; MissingComponent when there is none."""
    browser = find_chromium()
    if browser is None:
        raise MissingComponent(
            "--pdf needs a local headless Chromium and none was found",
            hint=f"install it (Debian: apt-get install -y chromium) or set {ENV_BROWSER}; the HTML report is complete without it",
        )
    html_path, pdf_path = Path(html_path).absolute(), Path(pdf_path).absolute()
    with tempfile.TemporaryDirectory(prefix="appliance-chromium-") as profile:
        cmd = [
            browser,
            *headless_args(Path(profile)),
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}",
            html_path.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ApplianceError(
                f"chromium did not finish printing within {timeout:.0f}s",
                hint="open the HTML report and print it from a browser",
            ) from None
    if proc.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise ApplianceError(
            f"chromium could not print the report to PDF (exit {proc.returncode})",
            hint="open the HTML report and print it from a browser",
            details=tail,
        )
    os.chmod(pdf_path, 0o640)
    return pdf_path
