"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium.

`scripts/with-chromium` (run by `make test`) installs chromium and chromium-driver when they
are missing. Outside CI a machine without them skips these tests with the reason; under CI
(CI=true) a missing browser is an error, never a silent skip. Screenshots of the main pages
are saved under the run's temporary folder (`<basetemp>/screenshots/`) to be looked at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import HOSTILE, TOKEN

CHROMIUM = os.environ.get("WATCH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WATCH_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# --no-sandbox: the suite runs as root in CI, where Chromium's sandbox refuses to start
ARGUMENTS = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
ARGUMENTS += ["--window-size=1280,1200", "--lang=en-GB"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        message = f"no {' or '.join(missing)}: run the suite through scripts/with-chromium"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {message}")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ARGUMENTS:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def wait_for(browser: Any, condition: Any, timeout: float = 60) -> Any:
    """Wait for what a click starts (a page, an element): a click may return before the
    browser has begun to load the page it asked for."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(condition)


def shoot(browser: Any, folder: Path, name: str, database: str) -> None:
    path = folder / f"{name}-{database}.png"
    assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000


def test_review_in_the_browser_moves_the_state_back_and_keeps_feed_text_inert(
    desk, browser, screenshots, database_url
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen

    database = database_url.split(":", 1)[0].split("+")[0]
    browser.delete_all_cookies()
    browser.get(desk.url + "/")
    assert "hawk" in browser.find_element(By.ID, "verdict").text
    assert browser.find_elements(By.CSS_SELECTOR, "svg polyline")
    shoot(browser, screenshots, "overview", database)

    browser.find_element(By.LINK_TEXT, "Indicators").click()
    wait_for(browser, seen.url_to_be(desk.url + "/indicators"))
    rows = wait_for(
        browser, seen.presence_of_all_elements_located((By.CSS_SELECTOR, "tr[data-indicator]"))
    )
    shown = [row.get_attribute("data-indicator") for row in rows]
    assert shown == ["rocket-site-work", "test-freeze", "summit"]
    shoot(browser, screenshots, "indicators", database)
    browser.find_element(By.CSS_SELECTOR, 'a[href="/indicators/rocket-site-work"]').click()
    wait_for(browser, seen.url_to_be(desk.url + "/indicators/rocket-site-work"))
    assert wait_for(browser, seen.presence_of_element_located((By.ID, "state"))).text == "confirmed"
    assert not browser.find_elements(By.CSS_SELECTOR, "form[data-reject]")  # read-only so far

    browser.find_element(By.LINK_TEXT, "Log in").click()
    wait_for(browser, seen.presence_of_element_located((By.NAME, "token"))).send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # the login page's own URL names the indicator (?next=...): wait for the page after it
    done = wait_for(browser, seen.presence_of_element_located((By.CLASS_NAME, "done")))
    assert "/indicators/rocket-site-work" in browser.current_url
    assert "logged in" in done.text

    # keyboard triage: j selects the newest piece of evidence, x asks why and rejects it
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("j")
    current = wait_for(
        browser, seen.presence_of_element_located((By.CSS_SELECTOR, "tr.current[data-evidence]"))
    )
    rejected_id = current.get_attribute("data-evidence")
    body.send_keys("x")
    prompt = wait_for(browser, seen.alert_is_present())
    assert "false positive" in prompt.text
    prompt.send_keys("an old satellite picture")
    prompt.accept()
    wait_for(browser, seen.text_to_be_present_in_element((By.ID, "state"), "signalled"))
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-evidence="{rejected_id}"]')
    assert "rejected" in row.get_attribute("class")
    history = browser.find_element(By.ID, "history").text
    assert f"evidence {rejected_id} rejected: an old satellite picture" in history
    shoot(browser, screenshots, "indicator-after-reject", database)

    # a hostile headline shows as text and runs nothing
    browser.get(desk.url + "/indicators/test-freeze")
    headlines = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "td.headline")]
    assert any(HOSTILE in text for text in headlines)
    assert browser.execute_script("return window.pwned === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "td.headline img, td.headline script")
    shoot(browser, screenshots, "hostile-headline", database)

    for page in ("feeds", "alerts"):
        browser.get(f"{desk.url}/{page}")
        assert browser.find_element(By.TAG_NAME, "h1").text == page.title()
        shoot(browser, screenshots, page, database)
