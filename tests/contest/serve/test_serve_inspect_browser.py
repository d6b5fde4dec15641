"""The page's "look inside" view in headless Chromium: draw a digit, press Look inside, and see a
saliency overlay for every member, feature-map grids and the nearest training images.

The ensemble is trained on an IDX directory of 2,000 MNIST images, so that the server's first
look-inside request computes the training images' features in about a second. Screenshots are
copied to $CONTEST_SCREENSHOTS when set (docs/inspect-page.png is one).
"""
import pytest

from contest_testutil import invoke, write_mnist_slice
from test_serve_browser import browser as browser_fixture
from test_serve_browser import draw_a_one, keep_screenshot, served

MEMBERS = 2
browser = browser_fixture   # headless Chromium, as the page's other browser tests use it


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    return write_mnist_slice(tmp_path_factory.mktemp("mnist-2000"), 2000, 200)


@pytest.fixture(scope="module")
def inside_server(tmp_path_factory, small_mnist):
    out = tmp_path_factory.mktemp("inside-ensemble") / "models"
    result = invoke(["train-ensemble", "--n", str(MEMBERS), "--preset", "fast", "--epochs", "2",
                     "--seed", "3", "--jobs", "1", "--out", out, "--data-dir", small_mnist])
    assert result.exit_code == 0, result.output
    env = {"CONTEST_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
           "PATH": "/usr/bin:/bin"}
    with served(out, "--workers", "1", env=env) as url:
        yield url


def test_look_inside_shows_saliency_per_member_feature_maps_and_neighbours(
        inside_server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(1000, 1900)
    browser.get(inside_server + "/")
    WebDriverWait(browser, 20).until(lambda d: "members" in d.find_element(By.ID, "info").text)
    draw_a_one(browser, browser.find_element(By.ID, "pad"))
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "prediction").text == "1"
                                     or d.find_element(By.ID, "error").text)
    browser.find_element(By.ID, "look").click()
    WebDriverWait(browser, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#neighbours canvas")) == 8
        or d.find_element(By.ID, "error").text)
    screenshot = tmp_path / "inspect-page.png"
    browser.save_screenshot(str(screenshot))
    keep_screenshot(screenshot)
    assert browser.find_element(By.ID, "error").text == ""
    saliency = browser.find_elements(By.CSS_SELECTOR, "#saliency figure.saliency canvas")
    assert len(saliency) == MEMBERS
    rows = browser.find_elements(By.CSS_SELECTOR, "#maps .maprow")
    assert rows and rows[0].text.startswith("0:Conv2D")
    assert len(rows[0].find_elements(By.TAG_NAME, "canvas")) == 8
    painted = browser.execute_script(
        "const c = document.querySelector('#saliency canvas');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s;")
    assert painted > 0     # the overlay drew something: red where the member looked
