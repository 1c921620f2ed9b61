"""Headless Chromium for the page tests: Debian's chromium and chromedriver (`make browser`
installs them, with the CJK fonts); nothing is downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--lang=ko-KR",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """Headless Chromium through Debian's chromedriver; quit on the way out."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed: `make browser` installs Debian's "
            "chromium and chromium-driver",
            pytrace=False,
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    # The driver is given: Selenium Manager has nothing to look up or download.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_window_size(*DESKTOP)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, path: Path, size: tuple[int, int] = DESKTOP) -> None:
    """The whole page, not only the window: the window grows to the page's height."""
    driver.set_window_size(size[0], size[1])
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    # The window's outer height includes a little more than the page's viewport.
    driver.set_window_size(size[0], max(size[1], int(height) + 120))
    assert driver.get_screenshot_as_file(str(path)), path
    driver.set_window_size(*DESKTOP)


def after_submit(driver: WebDriver, css: str, seconds: float = 30.0) -> WebElement:
    """A click on a submit button returns before the next page loads: wait for an
    element of that page (the form's own staleness is no sign: while the page is
    replaced, Chromium may answer a question about it with an error of its own)."""
    wait = WebDriverWait(driver, seconds)
    element: WebElement = wait.until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )
    return element
