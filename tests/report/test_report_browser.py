"""The report renders in headless Chromium from disk with every figure loaded (skips without Chromium)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from brainalign.report.html import FIGURES

_CHECK = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((image) => image.complete && image.naturalWidth > 0).length;
  document.body.setAttribute("data-images", `${loaded}/${images.length}`);
});
</script>
</body>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if path:
            return path
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")


def test_report_renders_with_every_image_loaded(reported_run: Path, tmp_path: Path) -> None:
    browser = _chromium()
    probe = reported_run / "report_probe.html"  # the report plus a script counting loaded images
    probe.write_text((reported_run / "report.html").read_text(encoding="utf-8").replace("</body>", _CHECK),
                     encoding="utf-8")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
               probe.resolve().as_uri()]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=90)
    finally:
        probe.unlink()
    match = re.search(r'data-images="(\d+)/(\d+)"', result.stdout)
    assert match, f"Chromium did not render the page (exit {result.returncode}): {result.stderr[-500:]}"
    loaded, total = map(int, match.groups())
    assert total == len(FIGURES)
    assert loaded == total
