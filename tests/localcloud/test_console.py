"""The console in a real browser: Debian's headless Chromium, driven by Selenium through Debian's
chromium-driver (the same build; `.ci/run` installs both), against Bookstore on the local cloud
during a short load started from the console itself. Screenshots go to the test's directory, or
to $CONSOLE_SCREENSHOTS (the README's come from `CONSOLE_SCREENSHOTS=docs/console`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from localcloud.process import LocalCloudProcess

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SERVICES = {"ordem-de-compra", "cadastro-de-livros", "pagamento"}
T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None) and os.environ.get("CI") != "true",
    reason="Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver; .ci/run installs them)",
)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    # The driver's path given: Selenium Manager (which would download one) stays out of it.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER or "chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots(tmp_path: Path) -> Callable[[WebDriver, str], Path]:
    directory = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)

    def take(driver: WebDriver, name: str) -> Path:
        path = directory / f"{name}.png"
        driver.set_window_size(1400, max(1000, min(2400, int(driver.execute_script("return document.body.scrollHeight")))))
        assert driver.save_screenshot(str(path))
        driver.set_window_size(1400, 1000)
        return path

    return take


def until(driver: WebDriver, condition: Callable[[WebDriver], T | None], timeout_s: float = 60) -> T:
    """`condition` once it holds (an element redrawn by htmx meanwhile is simply looked up again)."""

    def holds(driver: WebDriver) -> T | None:
        try:
            return condition(driver)
        except StaleElementReferenceException:
            return None

    result = WebDriverWait(driver, timeout_s, poll_frequency=0.25).until(holds)
    assert result is not None  # until() returns only a value that holds
    return result


def click(driver: WebDriver, find: Callable[[WebDriver], WebElement | None]) -> None:
    """Clicks what `find` finds, again if htmx redrew it at that moment."""

    failures: list[str] = []

    def clicked(driver: WebDriver) -> bool:
        element = find(driver)
        if element is None:
            return False
        try:
            element.click()
        except (StaleElementReferenceException, WebDriverException) as error:
            failures.append(error.msg or type(error).__name__)
            return False
        return True

    try:
        until(driver, clicked, 30)
    except TimeoutException:
        raise AssertionError(f"could not click: {failures[-3:]}") from None


def text_of(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def complete_order_row(driver: WebDriver) -> WebElement | None:
    """A listed POST /ordens trace that holds the spans of all three services."""
    for row in driver.find_elements(By.CSS_SELECTOR, "tr.trace-row"):
        services = set(row.find_elements(By.CSS_SELECTOR, "td")[5].text.split(", "))
        if "POST /ordens" in row.text and services >= SERVICES:
            return row
    return None


def test_from_an_orders_trace_to_its_logs_and_from_a_metric_point_to_its_trace_in_chromium(
    bookstore_cloud: LocalCloudProcess, browser: WebDriver, screenshots: Callable[[WebDriver, str], Path]
) -> None:
    console = bookstore_cloud.console_url
    try:
        # Given the console's cloud page, and its load generator started from it
        browser.get(f"{console}/cloud")
        click(browser, lambda driver: driver.find_element(By.ID, "load-start"))
        until(browser, lambda driver: text_of(driver, "#load-state") == "running")

        # When the traces list, filtered to orders, shows one that reached all three services
        browser.get(f"{console}/traces")
        browser.find_element(By.NAME, "route").send_keys("POST /ordens")
        row = until(browser, complete_order_row, 120)
        trace_id = row.get_attribute("data-trace-id") or ""
        screenshots(browser, "traces")
        click(browser, lambda driver: driver.find_element(By.CSS_SELECTOR, f'tr[data-trace-id="{trace_id}"] a.trace-link'))

        # Then its waterfall draws the spans of the three services, and the order's own log lines beside them
        until(browser, lambda driver: trace_id in driver.current_url)
        labels = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "details.span > summary .label")]
        assert {label.split(":")[0] for label in labels} >= SERVICES, labels
        assert any(label.startswith("ordem-de-compra: POST /ordens") for label in labels), labels
        inline = browser.find_elements(By.CSS_SELECTOR, "table.logs-inline tr.log-row")
        assert inline, "the order's trace shows no log line"
        screenshots(browser, "trace")

        # When a log line of the logs page is followed to its span
        browser.get(f"{console}/logs")
        browser.find_element(By.NAME, "text").send_keys("ordem registrada")
        # (the rows listed before the filter applies are not it: wait for the filtered ones)
        log_row = until(
            browser,
            lambda driver: next(
                (row for row in driver.find_elements(By.CSS_SELECTOR, "tr.log-row[data-span-id]") if "ordem registrada" in row.text), None
            ),
        )
        log_trace, log_span = log_row.get_attribute("data-trace-id"), log_row.get_attribute("data-span-id")
        screenshots(browser, "logs")
        click(browser, lambda driver: driver.find_element(By.CSS_SELECTOR, f'tr.log-row[data-span-id="{log_span}"] a.span-link'))

        # Then the log's trace opens on that span: unfolded, marked, with the log line in its details
        # (its function exports the spans after the answer, maybe after the log line: reloaded until they are in)
        until(browser, lambda driver: f"/traces/{log_trace}" in driver.current_url)

        def logged_span(driver: WebDriver) -> WebElement | None:
            found = next(iter(driver.find_elements(By.ID, f"span-{log_span}")), None)
            if found is None:
                driver.refresh()
            return found

        span = until(browser, logged_span)
        assert span.get_attribute("open") is not None
        assert "selected" in (span.get_attribute("class") or "")
        assert "ordem registrada" in span.find_element(By.CSS_SELECTOR, "ul.logs").text
        screenshots(browser, "log-to-span")

        # When a point of the p95 latency chart is clicked (its exemplar: the slowest request of its bucket)
        browser.get(f"{console}/metrics")
        point = until(browser, lambda driver: next(iter(driver.find_elements(By.CSS_SELECTOR, "#chart-p95 a.exemplar")), None))
        assert point is not None
        screenshots(browser, "metrics")
        exemplar: list[str] = []

        def spike(driver: WebDriver) -> WebElement | None:
            """The highest exemplar point, as the browser has it on top (points of routes may overlap)."""
            circles = driver.find_elements(By.CSS_SELECTOR, "#chart-p95 a.exemplar circle")
            if not circles:
                return None
            highest = min(circles, key=lambda circle: float(circle.get_attribute("cy") or 0))
            on_top: WebElement = driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center'});"
                "const box = arguments[0].getBoundingClientRect();"
                "return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);",
                highest,
            )
            link = on_top.find_element(By.XPATH, "./ancestor::*[local-name()='a'][1]")
            exemplar[:] = [link.get_attribute("data-trace-id") or ""]
            return on_top

        click(browser, spike)

        # Then that trace opens, with the request the point measured
        until(browser, lambda driver: f"/traces/{exemplar[0]}" in driver.current_url)
        assert browser.find_elements(By.CSS_SELECTOR, "details.span"), browser.page_source[:2000]
        assert any(element.get_attribute("open") is not None for element in browser.find_elements(By.CSS_SELECTOR, "details.span.selected"))

        # And the cloud page shows the environments the load started; Stop ends the generator
        browser.get(f"{console}/cloud")
        until(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, ".env"))
        screenshots(browser, "cloud")
        click(browser, lambda driver: driver.find_element(By.ID, "load-stop"))
        until(browser, lambda driver: text_of(driver, "#load-state") == "stopped", 45)
    finally:  # the generator never outlives the test, whatever failed
        httpx.post(f"{console}/cloud/load/stop", headers={"HX-Request": "true"}, timeout=60)


def test_the_console_answers_loopback_names_only_and_takes_actions_from_its_own_pages(bookstore_cloud: LocalCloudProcess) -> None:
    console = bookstore_cloud.console_url
    # Given the console of a running cloud
    mark = bookstore_cloud.mark()
    # When a page another site loaded in the browser tries it: a rebinding name, a cross-site form, a foreign origin
    rebound = httpx.get(f"{console}/traces", headers={"Host": f"attacker.example:{bookstore_cloud.console_port}"})
    form_post = httpx.post(f"{console}/cloud/recycle")
    foreign = httpx.post(f"{console}/cloud/recycle", headers={"HX-Request": "true", "Origin": "http://attacker.example"})
    # Then each is refused, and nothing was recycled
    assert (rebound.status_code, form_post.status_code, foreign.status_code) == (403, 403, 403)
    assert not [line for line in bookstore_cloud.since(mark) if "recycled environments" in line]
    # And the console's own page may (the header htmx sends, its own origin)
    own = httpx.post(f"{console}/cloud/recycle", headers={"HX-Request": "true", "Origin": console})
    assert own.status_code == 200
    bookstore_cloud.wait_for("recycled environments", mark)
