"""The report renders in headless Chromium from disk: every figure drawn and loaded, all at one size and
shown near their natural width (so their 8-10 pt text stays readable), nothing wider than the window
(skips without Chromium)."""
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
  const page = document.documentElement.clientWidth;
  const overflowing = Array.from(document.querySelectorAll("body *"))
    .filter((element) => element.getBoundingClientRect().right > page + 1)
    .map((element) => element.tagName + (element.id ? "#" + element.id : ""));
  const widths = images.map((image) => `${image.naturalWidth}:${Math.round(image.getBoundingClientRect().width)}`);
  document.body.setAttribute("data-images", `${loaded}/${images.length}`);
  document.body.setAttribute("data-overflow", overflowing.slice(0, 10).join(" "));
  document.body.setAttribute("data-scroll", `${document.documentElement.scrollWidth}/${page}`);
  document.body.setAttribute("data-widths", widths.join(" "));
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
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--window-size=1280,2000",
               "--dump-dom",
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
    page = re.search(r'<body data-images="[^"]*" data-overflow="([^"]*)" data-scroll="(\d+)/(\d+)" '
                     r'data-widths="([^"]*)"', result.stdout)
    assert page, "the probe script did not report the layout"
    overflow, scroll, width, sizes = page.group(1), int(page.group(2)), int(page.group(3)), page.group(4)
    assert overflow == "" and scroll <= width  # no element reaches past the window, no horizontal scrolling
    natural, shown = zip(*(map(int, size.split(":")) for size in sizes.split()))
    assert len(set(natural)) == 1  # one figure width
    assert all(0.6 <= s / n <= 1.0 for s, n in zip(shown, natural))  # 9 pt at 150 dpi stays >= 11 px
