"""The explore page in a real browser: headless Chromium driven by Selenium.

Skips with the reason where Debian's ``chromium`` and ``chromium-driver`` are not installed
(``.ci/run`` installs them). The page loads, a preset loads its story, moving the write-rate
slider (with the keyboard, as a user can) changes the stale-read number and figure, and the
space-time trace renders. A screenshot of the page goes to the test's temporary folder, and
also to the path in ``REPSIM_EXPLORE_SCREENSHOT`` when set (the README's picture is made with
``REPSIM_EXPLORE_SCREENSHOT=docs/explore.png``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("no /usr/bin/chromium or /usr/bin/chromedriver: install Debian's chromium and "
                "chromium-driver to run the browser test", allow_module_level=True)
pytest.importorskip("panel", reason="the explore page needs Panel: pip install 'repsim[explore]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (dev dependencies)")

from selenium.webdriver.common.keys import Keys  # noqa: E402 - after the skips
from selenium.webdriver.support.ui import Select  # noqa: E402

from sim.explore.presets import PRESETS  # noqa: E402
from tests.explore_server import explore_server  # noqa: E402

WAIT_S = 60.0
STEPS = 20  # arrow-key presses on the write-rate slider, 50 writes/s each
STORY = "A replica read right after a write"

# Panel draws every component in its own shadow DOM: find the first match of each selector
# inside the element found by the previous one, searching through nested shadow roots.
FIND = """
function deep(root, selector) {
  const hit = root.querySelector(selector);
  if (hit) return hit;
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) { const found = deep(el.shadowRoot, selector); if (found) return found; }
  }
  return null;
}
let scope = document, found = null;
for (const selector of arguments) {
  found = deep(scope, selector);
  if (!found) return null;
  scope = found.shadowRoot || found;
}
return found;
"""


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="repsim-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                 "--window-size=1500,1780"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(str(CHROMEDRIVER)),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _find(driver, *selectors):
    return driver.execute_script(FIND, *selectors)


def _wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _text(driver, selector: str) -> str:
    element = _find(driver, selector)
    return element.text if element is not None else ""


def _image(driver, selector: str) -> tuple[int, str]:
    """(natural width, src) of the image in a PNG pane; (0, '') before it has one."""
    img = _find(driver, selector, "img")
    if img is None:
        return 0, ""
    return driver.execute_script("return [arguments[0].naturalWidth, arguments[0].src]", img)


def test_the_page_in_a_browser(browser, tmp_path):
    with explore_server() as url:
        browser.get(url)
        first = _wait_for(lambda: "Stale reads" in _text(browser, ".explore-stale-number")
                          and _text(browser, ".explore-stale-number"), "the first result")

        # A preset loads: its story shows, the controls move, the page reruns.
        Select(_find(browser, ".explore-preset", "select")).select_by_visible_text(STORY)
        _wait_for(lambda: "Notebook 02" in _text(browser, ".explore-story"), "the story")
        handle = _find(browser, ".explore-control-write-rate", ".noUi-handle")
        assert float(handle.get_attribute("aria-valuenow")) == PRESETS[STORY].settings().write_rate
        before = _wait_for(lambda: (lambda t: t != first and "theory" in t and t)(
            _text(browser, ".explore-stale-number")), "the preset's result")
        figure_before = _image(browser, ".explore-stale-figure")[1]
        assert figure_before

        # Moving the slider reruns the simulation: the number and the figure change.
        handle.click()
        for _ in range(STEPS):
            handle.send_keys(Keys.ARROW_RIGHT)
        assert float(handle.get_attribute("aria-valuenow")) == 1000.0 + 50.0 * STEPS
        after = _wait_for(lambda: (lambda t: t != before and t)(
            _text(browser, ".explore-stale-number")), "a new stale-read rate")
        _wait_for(lambda: _image(browser, ".explore-stale-figure")[1] != figure_before,
                  "a new stale-read figure")
        _wait_for(lambda: "computed and drawn" in _text(browser, ".explore-status")
                  and "simulating" not in _text(browser, ".explore-status"), "the run to end")

        # More writes per key, more stale reads (the curve 1 - e^(-λd) rises).
        def percent(text: str) -> float:
            return float(text.split("Stale reads:")[1].split("%")[0])

        assert percent(after) > percent(before)

        # The space-time trace renders as a picture with its caption.
        width, _ = _wait_for(lambda: (lambda img: img[0] > 0 and img)(
            _image(browser, ".explore-trace-figure")), "the trace")
        assert width > 500
        assert "What happened to one key" in _text(browser, ".explore-trace-caption")

        shot = tmp_path / "explore.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        target = os.environ.get("REPSIM_EXPLORE_SCREENSHOT")
        if target:
            # Like every figure the project writes, the picture names the code that drew it.
            from PIL import Image, PngImagePlugin

            from sim.provenance import creator

            info = PngImagePlugin.PngInfo()
            info.add_text("Creator", creator())
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Image.open(shot).save(target, pnginfo=info)
            assert Image.open(target).info["Creator"] == creator()
