"""The page of `contest serve` in a real browser: headless Chromium driven by Selenium.

The server runs as `python -m contest serve` on a free loopback port; a stroke shaped like a 1 is
drawn on the canvas with the pointer, and the page must show the prediction 1 and one vote per
member. Chromium comes from Debian (`scripts/install-browser.sh`, run by CI); where it cannot be
installed the test is skipped with that reason.
"""
import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from contest_testutil import free_port, invoke

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# CONTEST_SCREENSHOTS=DIR: copy the page's screenshots there, to look at (they are always taken)
SHOWCASE = os.environ.get("CONTEST_SCREENSHOTS")
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage")


def keep_screenshot(path):
    """Copy a screenshot into $CONTEST_SCREENSHOTS when that names a directory."""
    if SHOWCASE and Path(SHOWCASE).is_dir():
        shutil.copyfile(path, Path(SHOWCASE) / path.name)


@pytest.fixture(scope="module")
def browser_models(tmp_path_factory):
    """2 members trained on 2,000 images for 2 epochs (~91 % test accuracy, ~7 s): the session's
    300-image ensemble is too weak to read a hand-drawn digit reliably."""
    out = tmp_path_factory.mktemp("browser-ensemble") / "models"
    result = invoke(["train-ensemble", "--n", "2", "--preset", "fast", "--epochs", "2",
                     "--train-limit", "2000", "--seed", "3", "--jobs", "1", "--out", out])
    assert result.exit_code == 0, result.output
    return out


def wait_until_ready(url, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode(errors="replace")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"server at {url} not ready after {seconds} s")


@contextlib.contextmanager
def served(models, *options, env=None):
    """URL of `contest serve --models models --threads 1 *options` on a free loopback port,
    ready to answer; the server is stopped on leaving."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "contest", "serve", "--models", str(models), "--port", str(port),
         "--threads", "1", *options], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(browser_models):
    with served(browser_models) as url:
        yield url


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("no Chromium here: scripts/install-browser.sh installs Debian's chromium "
                    "and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument("--window-size=900,1000")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def draw_a_one(driver, pad):
    """A slightly slanted vertical stroke through the middle of the canvas, by pointer."""
    from selenium.webdriver.common.action_chains import ActionChains

    height = pad.size["height"]
    actions = ActionChains(driver).move_to_element_with_offset(pad, 4, -int(height * 0.35))
    actions.click_and_hold()
    for _ in range(14):
        actions.move_by_offset(-1, int(height * 0.05))
    actions.release().perform()


def test_drawing_a_one_shows_prediction_1_and_every_members_vote(server, browser, tmp_path,
                                                                  browser_models):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    WebDriverWait(browser, 20).until(lambda d: "members" in d.find_element(By.ID, "info").text)
    draw_a_one(browser, browser.find_element(By.ID, "pad"))
    WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.ID, "prediction").text not in ("", "–")
        or d.find_element(By.ID, "error").text)
    screenshot = tmp_path / "serve-page.png"
    browser.save_screenshot(str(screenshot))
    keep_screenshot(screenshot)
    assert browser.find_element(By.ID, "error").text == ""
    assert browser.find_element(By.ID, "prediction").text == "1"
    votes = browser.find_elements(By.CSS_SELECTOR, "#votes li.vote")
    assert len(votes) == 2 and all(vote.text.startswith("member-") for vote in votes)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 10


def test_upload_gives_a_submission_and_the_page_fits_a_phone(server, browser, tmp_path,
                                                             tiny_test):
    import numpy as np
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    images = tmp_path / "images.npy"
    np.save(images, tiny_test[0][:30])
    browser.set_window_size(390, 900)
    browser.get(server + "/")
    browser.find_element(By.ID, "file").send_keys(str(images))
    browser.find_element(By.ID, "upload").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "download").is_displayed()
                                     or d.find_element(By.ID, "error").text)
    assert browser.find_element(By.ID, "error").text == ""
    assert browser.find_element(By.ID, "file-status").text == "images.npy: 30 images predicted"
    widths = browser.execute_script("return [document.documentElement.scrollWidth, "
                                    "window.innerWidth, document.getElementById('pad')"
                                    ".getBoundingClientRect().right];")
    assert widths[0] <= widths[1] and widths[2] <= widths[1], widths
    browser.save_screenshot(str(tmp_path / "serve-page-phone.png"))
    keep_screenshot(tmp_path / "serve-page-phone.png")


def test_openapi_page_renders_without_internet(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/docs")
    WebDriverWait(browser, 20).until(
        lambda d: "/predict" in d.find_element(By.TAG_NAME, "body").text)
    assert "/health" in browser.find_element(By.TAG_NAME, "body").text
