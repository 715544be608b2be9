"""The report in a real headless Chromium: renders without console errors, the table filters run, and a
screenshot shows the integrity section.  Skipped only where no Chromium is installed
(Debian: ``apt-get install -y chromium``)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from appliance.report import build_report
from appliance.report.pdf import find_chromium, headless_args

BROWSER = find_chromium()
pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(
        BROWSER is None, reason="no headless Chromium installed (Debian: apt-get install -y chromium)"
    ),
]
# Chromium logs page console messages as "...:INFO:CONSOLE(line)] "text", source: URL (line)" (and errors
# such as uncaught exceptions or CSP violations through the same channel, at any level).
CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR|VERBOSE\d*):CONSOLE[^\]]*\]\s*(.*)")


def _chromium(url: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [BROWSER, *headless_args(profile), "--enable-logging=stderr", "--v=0", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def console_messages(stderr: str) -> list[str]:
    return [m.group(1) for m in map(CONSOLE.search, stderr.splitlines()) if m]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    """A report over a home with activity of several kinds (its own home: the browser is what is tested)."""
    from appliance.audit import record
    from appliance.home import Home
    from appliance.keys import init_home, unlock_home

    root = tmp_path_factory.mktemp("browser")
    home = Home(root / "home")
    init_home(home, b"browser test", kdf_target_ms=1)
    keys = unlock_home(home, b"browser test")
    record(
        home,
        "vault.ingest",
        {
            "ingest_id": "i-1",
            "source": "clinic-a",
            "records_in": 12,
            "kept": 10,
            "dropped": {"near_duplicate": 2},
            "phi_found": {"PERSON": 9, "DATE_TIME": 4},
        },
    )
    record(home, "vault.show", {"record": "r-0001", "chars": 812})
    record(home, "harden.check", {"root": "/", "passed": 9, "failed": 3}, outcome="failed")
    record(home, "models.promote", {"version": "v0001", "previous": None})
    run = home.run_dir("r1")
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text(
        "".join(f'{{"kind": "step", "step": {s}, "loss": {5 / s}}}\n' for s in range(1, 30))
    )
    out = root / "report.html"
    build_report(home, out, signer=keys.signer)
    return out


def test_console_error_detection_works(tmp_path):
    """Control: a page that throws and logs an error is caught by the same check."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><script>console.error('boom-1');missingFunction();</script></body></html>"
    )
    p = _chromium(page.as_uri(), tmp_path, "--dump-dom")
    msgs = console_messages(p.stderr)
    assert any("boom-1" in m for m in msgs) and any("missingFunction" in m for m in msgs), p.stderr[-2000:]


def test_report_renders_without_console_errors(report_file, tmp_path):
    p = _chromium(report_file.as_uri(), tmp_path, "--dump-dom")
    assert p.returncode == 0, p.stderr[-2000:]
    assert console_messages(p.stderr) == []
    m = re.search(r'<body data-ready="(\d+)"', p.stdout)
    assert m and int(m.group(1)) >= 2, "the filter script did not finish"
    assert 'class="filters"' in p.stdout and "of " in p.stdout  # filter rows and row counts were built


def test_filters_hide_rows(report_file, tmp_path):
    p = _chromium(report_file.as_uri() + "#q=harden.check", tmp_path, "--dump-dom")
    assert console_messages(p.stderr) == []
    act = p.stdout[p.stdout.index('<section id="activity">') : p.stdout.index('<section id="data">')]
    bodies = re.findall(r'<table class="filterable">.*?<tbody>(.*?)</tbody>', act, re.DOTALL)
    assert len(bodies) >= 2
    rows = [(attrs, cells) for b in bodies for attrs, cells in re.findall(r"<tr([^>]*)>(.*?)</tr>", b, re.DOTALL)]
    shown = [cells for attrs, cells in rows if "hidden" not in attrs]
    hidden = [cells for attrs, cells in rows if "hidden" in attrs]
    assert hidden and shown
    assert all("harden.check" in cells for cells in shown)
    assert not any("harden.check" in cells for cells in hidden)


def test_screenshot_shows_integrity_section(report_file, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    p = _chromium(
        report_file.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1280,1400", "--hide-scrollbars"
    )
    assert shot.is_file(), p.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 1400)
    colors = img.getcolors(maxcolors=1 << 20)
    counts = {c: n for n, c in colors}
    # the header bar (#14324f) and the green "audit log intact" banner (#e6f4ea) are on the first screen
    assert counts.get((0x14, 0x32, 0x4F), 0) > 20_000
    assert counts.get((0xE6, 0xF4, 0xEA), 0) > 10_000


def test_print_to_pdf(report_file, tmp_path):
    from appliance.report.pdf import print_pdf

    pdf = print_pdf(report_file, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
