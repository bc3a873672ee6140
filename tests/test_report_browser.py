"""The demo report in a real browser (headless Chromium through selenium), as a reader sees it:
the front page readable from its top at two screen sizes, every category opening, every image
decoding, every page of tables and notebooks loading, nothing fetched from the network and no
console error. Skips, saying why, only where no browser can be driven."""

import json
import shutil
import tempfile
import time

import pytest

pytestmark = pytest.mark.integration
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SIZES = [(1366, 768), (1920, 1080)]
LOCAL = ("data:", "file:", "blob:", "about:", "javascript:", "chrome:", "devtools:")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(binary):
            pytest.skip(f"{binary} not found: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open(driver, report, size):
    driver.set_window_size(*size)
    driver.get(report.as_uri())
    for _ in range(100):  # the app renders from its embedded data after load
        if driver.execute_script("return document.querySelector('h1') && typeof app !== 'undefined'"):
            return
        time.sleep(0.1)
    raise AssertionError("the report's app did not render")


def _requests(driver) -> list:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _console_errors(driver) -> list:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _front_page_heading(driver):
    for h1 in driver.find_elements("tag name", "h1"):
        if h1.get_attribute("textContent").strip() == "CNN study reproduction":
            return h1
    raise AssertionError("the front page's heading is missing")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_front_page_is_readable_from_its_top_with_banner_and_claim_counts(browser, demo_report, size):
    _open(browser, demo_report, size)
    heading = _front_page_heading(browser)
    browser.execute_script("arguments[0].closest('.overflow-auto').scrollTop = 0", heading)
    banner = browser.find_element("xpath", "//*[contains(@class, 'warning')]")
    counts = browser.find_element("xpath", "//caption[contains(., 'claims per source report')]/ancestor::table")
    width, height = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    for element in (heading, banner):
        top, bottom = element.rect["y"], element.rect["y"] + element.rect["height"]
        assert top >= 0 and bottom <= height, (element.text[:40], element.rect, size)
    assert "Demo data" in banner.text and counts.rect["y"] < height  # the counts start on the first screen
    rows = counts.find_elements("css selector", "tbody tr")
    assert [r.text.split(":")[0] for r in rows] == ["seed000", "seed001", "seed002", "seed003", "seed004"]
    assert counts.rect["x"] + counts.rect["width"] <= width and counts.rect["width"] > 0.45 * width
    claims = browser.find_elements("xpath", "//table[.//th[contains(., 'the report')]]//tbody/tr")
    assert len(claims) >= 40  # every claim of the five reports has a row
    verdicts = browser.find_elements("css selector", "span.reproduced, span.contradicted, span.inconclusive")
    assert verdicts and verdicts[0].value_of_css_property("color") != "rgba(0, 0, 0, 1)"  # verdicts in colour


def test_every_category_opens_every_image_decodes_and_nothing_comes_from_the_network(browser, demo_report):
    _open(browser, demo_report, SIZES[1])
    browser.get_log("performance")  # only what the categories and results load from here on
    categories = browser.execute_script("return Object.keys(categories)")
    assert {"Did it reproduce?", "Convolution from scratch", "Datasets"} <= set(categories)
    for category in categories:
        browser.execute_script("app.showCategory(arguments[0])", category)
        time.sleep(0.2)
        assert category in browser.find_element("tag name", "nav").text, category
    widths = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const images = Object.entries(results).filter(([, r]) => r.mime_type.startsWith('image/'));
        Promise.all(images.map(([path, r]) => new Promise(resolve => {
            const img = new Image();
            img.onload = () => resolve([path, img.naturalWidth]);
            img.onerror = () => resolve([path, 0]);
            img.src = r.data_uri;
        }))).then(done);"""
    )
    assert len(widths) > 50 and not [p for p, w in widths if w == 0], [p for p, w in widths if w == 0]
    pages = browser.execute_script(
        "return Object.entries(results).filter(([, r]) => r.mime_type === 'text/html').map(([p]) => p)"
    )
    for path in pages:  # tables and notebooks, each shown as the report shows it (an iframe)
        browser.execute_script(
            "app.setView({content: 'html', contentPath: results[arguments[0]].data_uri, resultPath: arguments[0]})",
            path,
        )
        time.sleep(0.3)
    remote = [u for u in _requests(browser) if not u.startswith(LOCAL)]
    assert not remote, remote
    assert not _console_errors(browser)
