"""The Events, Audit and dashboard pages in a real browser (SPEC EVT-1, EVT-2, EVT-6): headless Chromium driven by
Selenium, against a gateway of this module (see test_browser.py for the fixtures and helpers it shares)."""

from __future__ import annotations

import csv
import io
import urllib.error
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

from conftest import wait_until
from test_browser import (  # noqa: F401  (fixtures)
    mark_page, screenshot, shared_driver, shared_gateway, ui, wait, wait_navigation,
)

pytestmark = pytest.mark.rampart_only(reason="the web UI is a gateway feature; Mosquitto has none")

COMPONENTS = {"MQTT broker", "Web server", "Store", "Event bus", "Audit", "Syslog forwarder", "Push forwarder", "Firewall",
              "MQTT notifications"}


def failed_log_in(gateway, user: str) -> None:
    """A log-in with a wrong password, through the API (from the same address as the browser)."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        gateway.api("POST", "/session", {"user": user, "password": "not-the-password"})
    assert refused.value.code == 401


def rows(driver, table: str) -> list:
    return driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr:not(.empty)")


def test_events_auto_update_shows_a_new_log_in_failure_without_reload(ui, shared_gateway, request):
    driver = ui
    driver.get(shared_gateway.base + "/events")
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#events-table tbody tr"))
    assert driver.find_element(By.ID, "events-auto-update").is_selected()
    before = len([row for row in rows(driver, "events-table") if "intruder" in (row.get_attribute("title") or "")
                  or row.get_attribute("data-entity") == "Auth server"])
    mark_page(driver)
    failed_log_in(shared_gateway, "intruder")

    def new_row(d):
        found = [row for row in rows(d, "events-table") if row.get_attribute("data-entity") == "Auth server"]
        return found if len(found) > before else None

    found = wait(driver).until(new_row)
    cells = [cell.text for cell in found[0].find_elements(By.TAG_NAME, "td")]
    assert cells[:3] == ["Auth server", "LoginError", "Bad log-in or password"], cells
    # The row came through the live stream: the page was not reloaded.
    assert driver.execute_script("return window.__rampartTestPage === true")
    screenshot(driver, request)


def test_audit_download_saves_audit_csv_and_empties_the_table(ui, shared_gateway, request, tmp_path):
    driver = ui
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    driver.get(shared_gateway.base + "/audit")
    wait(driver).until(lambda d: len(rows(d, "audit-table")) > 0)
    shown = len(rows(driver, "audit-table"))
    screenshot(driver, request, "before")

    driver.find_element(By.ID, "audit-download").click()
    alert = wait(driver).until(expected_conditions.alert_is_present())
    assert "deletes" in alert.text and "audit.csv" in alert.text, alert.text
    alert.accept()

    target = Path(tmp_path) / "audit.csv"
    wait_until(lambda: target.exists() and target.stat().st_size > 0
               and not list(Path(tmp_path).glob("*.crdownload")), timeout=15)
    exported = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    assert len(exported) >= shown
    assert exported[-1]["type"] == "AuditExported"  # the download's own record is its last line
    assert all(len(row["hash"]) == 64 for row in exported)
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr.empty"))
    assert rows(driver, "audit-table") == []
    assert "audit.csv" in driver.find_element(By.ID, "audit-result").text
    screenshot(driver, request, "after")


def test_security_state_lists_every_component(ui, shared_gateway, request):
    driver = ui
    driver.get(shared_gateway.base + "/")
    wait_navigation(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#components tbody tr"))
    states = {row.get_attribute("data-component"): row.get_attribute("data-state")
              for row in driver.find_elements(By.CSS_SELECTOR, "#components tbody tr")}
    assert set(states) == COMPONENTS, states
    assert states["Web server"] == "running" and states["MQTT broker"] == "running"
    assert states["Syslog forwarder"] == "disabled" and states["Push forwarder"] == "disabled"
    assert all(state in ("running", "disabled") for state in states.values()), states
    assert driver.find_element(By.ID, "security-summary").text == "Safe state"
    assert driver.find_element(By.ID, "events-block").is_displayed()
    assert driver.find_element(By.ID, "audit-state").text in ("No errors", "Issues")
    screenshot(driver, request)
