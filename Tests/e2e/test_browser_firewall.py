"""The Firewall page in a real browser (SPEC FW-1…FW-5, WEB-3): headless Chromium driven by Selenium (see
test_browser.py for the browser and its helpers).

The lab tests run against a gateway in the lab's rampart-gw namespace whose ruleset is really in the kernel
(lab_gateway.LabGateway); the browser reaches its web UI as the LAN device 192.0.2.10. Only one lab exists at a
time: the module waits for /tmp/rampart-lab.lock, which is why those tests have a long timeout. The smoke test
needs no lab: the shared gateway of test_browser.py, whose firewall is never applied (--system-changes off).

Screenshots go to Tests/e2e/artifacts/<test name>-<step>.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select

import lab
from conftest import ARTIFACTS
from lab_gateway import LabGateway, lab_session
from test_browser import (  # noqa: F401  (fixtures)
    NEW_PASSWORD, Browser, fill, log_in, screenshot, shared_driver, shared_gateway, ui, wait, wait_navigation,
    wait_path,
)

pytestmark = pytest.mark.rampart_only(reason="the web UI is a gateway feature; Mosquitto has none")

_can_run_lab, _why_not = lab.can_run_lab()
needs_lab = pytest.mark.skipif(not _can_run_lab, reason=_why_not)
# The first lab test may wait for the lab lock held by another user of the lab, then builds the lab.
LAB_TIMEOUT = 600

LAN_DEVICE = lab.LAN_V4[0]    # 192.0.2.10: the browser's address as the gateway sees it
WAN_HOST = lab.WAN_V4[1]      # 198.51.100.10
EMERGENCY_WARNING = "blocks all traffic except the management path"
CONFIRM_SECONDS = 15          # how long a change to the management path waits for its confirmation


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def lab_gateway(tmp_path_factory):
    """A router gateway in the lab with its firewall applied; the lab lock is held while it runs."""
    with lab_session():
        gateway = LabGateway("test_browser_firewall", tmp_path_factory.mktemp("fw-ui"), confirm_seconds=CONFIRM_SECONDS)
        try:
            yield gateway.start()
        finally:
            gateway.stop()


@pytest.fixture(scope="module")
def api(lab_gateway):
    """The REST API with the console token (no web session: the browser holds the only one)."""
    session = lab_gateway.token_session()
    yield session
    session.close()


@pytest.fixture(scope="module")
def lab_driver(lab_gateway):
    """A browser logged in to the lab gateway: the initial password, then the forced change."""
    browser = Browser()
    driver = browser.driver
    try:
        base = lab_gateway.url
        log_in(driver, base, "admin", lab_gateway.initial_password)
        wait_path(driver, "/account/password")
        fill(driver, "current-password", lab_gateway.initial_password)
        fill(driver, "new-password", NEW_PASSWORD)
        fill(driver, "repeat-password", NEW_PASSWORD)
        driver.find_element(By.ID, "password-submit").click()
        wait_path(driver, "/")
        yield driver
    finally:
        browser.close()


@pytest.fixture
def firewall_page(request, lab_gateway, lab_driver):
    """The lab browser on the Firewall page (reached through the menu), its data loaded."""
    request.node._e2e_brokers = [lab_gateway]
    driver = lab_driver
    driver.get(lab_gateway.url + "/")
    driver.find_element(By.ID, "menu-firewall").click()
    wait_path(driver, "/firewall")
    wait_loaded(driver)
    return driver


# ------------------------------------------------------------------ helpers

def wait_loaded(driver) -> None:
    wait_navigation(driver).until(lambda d: d.find_element(By.ID, "firewall").get_attribute("data-version"))


def rule_ids(driver) -> list[int]:
    return [int(row.get_attribute("data-rule"))
            for row in driver.find_elements(By.CSS_SELECTOR, "#fw-rules tbody tr[data-rule]")]


def rule_row(driver, rule_id: int):
    return driver.find_element(By.CSS_SELECTOR, f'#fw-rules tbody tr[data-rule="{rule_id}"]')


def add_rule(driver, *, zone: str = "lan", source: str = "", destination: str = "", port: str, comment: str,
             applied: bool = True) -> int:
    """Adds `allow <zone> tcp source → destination:port` through the form; returns the new rule's id (read from the
    table). The form's result is green when the gateway applied the change, amber when it only saved it."""
    form = driver.find_element(By.ID, "fw-add-rule")
    Select(form.find_element(By.NAME, "action")).select_by_value("allow")
    Select(form.find_element(By.NAME, "zone")).select_by_value(zone)
    Select(form.find_element(By.NAME, "protocol")).select_by_value("tcp")
    for name, value in (("source", source), ("destination", destination), ("destinationPort", port),
                        ("comment", comment)):
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    before = set(rule_ids(driver))
    form.find_element(By.ID, "fw-add-rule-submit").click()
    added = wait(driver).until(lambda d: [i for i in rule_ids(d) if i not in before] or None)
    assert len(added) == 1, added
    row = rule_row(driver, added[0])
    assert comment in row.text and port in row.text and (destination or source) in row.text, row.text
    result = form.find_element(By.CSS_SELECTOR, ".fw-message")
    assert ("ok" if applied else "warn") in result.get_attribute("class").split(), result.text
    return added[0]


def chain_block(ruleset: str, chain: str) -> str:
    """The text of `chain <name> { … }` in an nft listing."""
    match = re.search(r"^\s*chain " + re.escape(chain) + r" \{\n(.*?)^\s*\}", ruleset, re.S | re.M)
    assert match, f"no chain {chain} in the ruleset:\n{ruleset}"
    return match.group(1)


def comment_order(block: str, ids: list[int]) -> list[int]:
    """The rules among `ids` in the order their `comment "rule:<id>"` first appears in `block`."""
    positions = {i: block.find(f'comment "rule:{i}"') for i in ids}
    assert all(p >= 0 for p in positions.values()), f"missing rule comments {positions} in:\n{block}"
    return sorted(ids, key=positions.get)


def trace(driver, *, port: int) -> dict[str, str]:
    """A LAN device's new TCP connection to the WAN host through the packet tracer; the result's fields."""
    Select(driver.find_element(By.ID, "trace-ingress")).select_by_value("lan")
    Select(driver.find_element(By.ID, "trace-egress")).select_by_value("wan")
    Select(driver.find_element(By.ID, "trace-protocol")).select_by_value("tcp")
    Select(driver.find_element(By.ID, "trace-state")).select_by_value("new")
    fill(driver, "trace-source", LAN_DEVICE)
    fill(driver, "trace-destination", WAN_HOST)
    fill(driver, "trace-destination-port", str(port))
    driver.execute_script("document.getElementById('trace-verdict').textContent = ''")
    driver.find_element(By.ID, "trace-submit").click()
    wait(driver).until(lambda d: d.find_element(By.ID, "trace-verdict").text.strip() or None)
    result = {name: driver.find_element(By.ID, f"trace-{name}").text.strip() for name in ("rule", "stage", "summary")}
    result["verdict"] = driver.find_element(By.ID, "trace-verdict").get_attribute("data-verdict")
    return result


# ------------------------------------------------------------------ lab tests

@needs_lab
@pytest.mark.timeout(LAB_TIMEOUT)
def test_rules_reach_the_kernel_in_the_table_order_and_decide_the_trace(firewall_page, lab_gateway, api, request):
    driver = firewall_page
    applied = driver.find_element(By.ID, "fw-applied")
    detail = driver.find_element(By.ID, "fw-applied-detail").text
    assert applied.get_attribute("data-applied") == "true", (applied.text, detail)
    assert driver.find_element(By.ID, "fw-device-type").get_attribute("data-device-type") == "router"
    stages = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#fw-stage-order li")]
    assert stages[0] == "Diagnostic allow" and stages[-1] == "Final block" and "Custom allow" in stages, stages

    first = add_rule(driver, destination=WAN_HOST, port="8080", comment="ui-first")
    second = add_rule(driver, destination=WAN_HOST, port="8081", comment="ui-second")
    assert rule_ids(driver)[-2:] == [first, second]

    rule_row(driver, second).find_element(By.CSS_SELECTOR, "button.move-up").click()
    wait(driver).until(lambda d: rule_ids(d)[-2:] == [second, first])
    stored = [rule["id"] for rule in lab_gateway.firewall_state(api)["configuration"]["rules"]]
    assert stored[-2:] == [second, first], stored

    # The kernel's ruleset, as the page shows it: both rules in the router's forward chain of custom allows, in the
    # table's order.
    def applied_order(d):
        shown = d.find_element(By.ID, "ruleset-applied")
        content = shown.get_attribute("textContent")
        if shown.get_attribute("data-source") != "kernel" or f'comment "rule:{second}"' not in content:
            return None
        block = chain_block(content, "forward_custom_allow")
        return comment_order(block, [first, second]) == [second, first] and content

    shown = wait(driver).until(applied_order)
    assert not driver.find_element(By.ID, "ruleset-note").is_displayed()
    # What the page showed is what the kernel holds.
    kernel = lab.in_ns(lab.GW_NS, "nft", "list", "ruleset", check=True).stdout
    assert comment_order(chain_block(kernel, "forward_custom_allow"), [first, second]) == [second, first]
    assert f'comment "rule:{first}"' in chain_block(shown, "forward_custom_allow")

    # The packet tracer names the rule that decides a LAN device's connection to port 8080 of the WAN host.
    result = trace(driver, port=8080)
    assert result["verdict"] == "accept", result
    assert result["rule"] == f"rule:{first}", result
    assert result["stage"] == "Custom allow", result
    assert "ui-first" in result["summary"], result
    passed = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#trace-passed li")]
    assert passed and "Custom allow" not in passed, passed
    screenshot_of(driver, request, "fw-tracer-card", "trace")
    other = trace(driver, port=9)
    assert other["rule"] not in (f"rule:{first}", f"rule:{second}"), other

    # Real traffic along the traced path counts on the rule's counter.
    lab.in_ns(lab.LAN_NS, "nc", "-z", "-w", "2", "-s", LAN_DEVICE, WAN_HOST, "8080")

    def counted(d):
        d.find_element(By.ID, "fw-refresh-counters").click()
        hits = rule_row(d, first).find_element(By.CSS_SELECTOR, "td.hits").text
        return int(hits) > 0 and hits

    wait(driver, poll=0.5).until(counted)

    screenshot(driver, request, "top")
    screenshot_of(driver, request, "fw-rules-card", "rules")
    screenshot_of(driver, request, "fw-ruleset-card", "ruleset")


@needs_lab
@pytest.mark.timeout(LAB_TIMEOUT)
def test_risky_changes_ask_first_and_a_management_change_waits_for_confirmation(firewall_page, lab_gateway, api,
                                                                                  request):
    driver = firewall_page
    toggle = driver.find_element(By.ID, "fw-emergency")
    assert not toggle.is_selected()
    toggle.click()
    alert = wait(driver).until(expected_conditions.alert_is_present())
    assert EMERGENCY_WARNING in alert.text, alert.text
    alert.dismiss()
    wait(driver).until(lambda d: not d.find_element(By.ID, "fw-emergency").is_selected())
    assert lab_gateway.firewall_state(api)["configuration"]["emergency"] is False

    driver.find_element(By.ID, "fw-device-change").click()
    alert = wait(driver).until(expected_conditions.alert_is_present())
    assert "unidirectional" in alert.text and "WAN" in alert.text, alert.text
    alert.dismiss()
    assert lab_gateway.firewall_state(api)["configuration"]["deviceType"] == "router"
    assert driver.find_element(By.ID, "fw-device-type").get_attribute("data-device-type") == "router"
    assert not driver.find_element(By.ID, "fw-pending").is_displayed()

    # Opening the web UI to the WAN host changes what reaches the management ports: the gateway applies it and
    # reverts it unless it is confirmed, and the page shows the countdown at once.
    rule = add_rule(driver, zone="wan", source=WAN_HOST, port="8443", comment="ui-wan-web")
    banner = driver.find_element(By.ID, "fw-pending")
    assert banner.is_displayed()
    changes = [li.text for li in banner.find_elements(By.CSS_SELECTOR, "#fw-pending-changes li")]
    assert any(WAN_HOST in line for line in changes), changes
    first = int(driver.find_element(By.ID, "fw-countdown").text)
    assert 0 < first <= lab_gateway.confirm_seconds, first
    wait(driver).until(lambda d: 0 < int(d.find_element(By.ID, "fw-countdown").text) < first)
    pending = lab_gateway.firewall_state(api)["pending"]
    assert pending and pending["deadline"] == banner.get_attribute("data-deadline"), pending
    screenshot(driver, request, "pending")

    driver.find_element(By.ID, "fw-confirm").click()
    wait(driver).until(lambda d: not d.find_element(By.ID, "fw-pending").is_displayed())
    assert driver.find_element(By.ID, "fw-message").text == "The change is kept."
    state = lab_gateway.firewall_state(api)
    assert state.get("pending") is None and rule in [r["id"] for r in state["configuration"]["rules"]], state
    # The kept rule is in force: the WAN host now reaches the web UI.
    assert lab_gateway.wan_api("GET", "/firewall").status_code == 200
    screenshot(driver, request, "kept")


@needs_lab
@pytest.mark.timeout(LAB_TIMEOUT)
def test_an_unconfirmed_change_reverts_and_the_page_shows_it(firewall_page, lab_gateway, api, request):
    driver = firewall_page
    rule = add_rule(driver, zone="wan", source=lab.WAN_V4[0], port="8443", comment="ui-revert")
    assert driver.find_element(By.ID, "fw-pending").is_displayed()
    # Nobody confirms: at the deadline the gateway restores the previous policy, and the page follows by itself.
    try:
        wait(driver, timeout=CONFIRM_SECONDS + 10, poll=0.2).until(
            lambda d: not d.find_element(By.ID, "fw-pending").is_displayed() and rule not in rule_ids(d))
    except TimeoutException:
        raise AssertionError(f"the page did not show the revert of rule {rule}: banner shown "
                             f"{driver.find_element(By.ID, 'fw-pending').is_displayed()}, rules {rule_ids(driver)}, "
                             f"gateway {lab_gateway.firewall_state(api)}") from None
    state = lab_gateway.firewall_state(api)
    assert state.get("pending") is None, state
    assert rule not in [r["id"] for r in state["configuration"]["rules"]], state
    shown = driver.find_element(By.ID, "ruleset-applied").get_attribute("textContent")
    assert f'comment "rule:{rule}"' not in shown
    screenshot(driver, request)


# ------------------------------------------------------------------ without the lab

def test_firewall_page_shows_field_errors_and_the_unapplied_ruleset(ui, shared_gateway, request):
    driver = ui
    driver.find_element(By.ID, "menu-firewall").click()
    wait_path(driver, "/firewall")
    wait_loaded(driver)
    assert driver.find_element(By.CSS_SELECTOR, "main h1").text == "Firewall"
    assert driver.find_element(By.ID, "fw-applied").get_attribute("data-applied") == "false"
    # Nothing is in the kernel: the page shows the compiled text and says so.
    assert driver.find_element(By.ID, "ruleset-note").is_displayed()
    shown = driver.find_element(By.ID, "ruleset-applied")
    assert shown.get_attribute("data-source") == "compiled"
    assert "chain forward_custom_allow" in shown.get_attribute("textContent")
    protocols = driver.find_elements(By.CSS_SELECTOR, '#fw-protocol-list input[name="blocked"]')
    assert protocols, "the application-protocol catalogue is empty"

    form = driver.find_element(By.ID, "fw-add-rule")
    source = form.find_element(By.NAME, "source")
    source.clear()
    source.send_keys("192.0.2.300")
    form.find_element(By.ID, "fw-add-rule-submit").click()
    error = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#fw-add-rule .field-error") or None)
    assert "192.0.2.300" in error[0].text, error[0].text
    assert "invalid" in source.get_attribute("class").split()
    assert driver.find_elements(By.CSS_SELECTOR, "#fw-rules tbody tr.empty"), "a refused rule must not be listed"
    screenshot_of(driver, request, "fw-rules-card", "field-error")

    # Saved, though not applied; then edited in the dialog.
    source.clear()
    rule = add_rule(driver, source="192.0.2.0/24", destination="203.0.113.7", port="443", comment="smoke",
                    applied=False)
    rule_row(driver, rule).find_element(By.CSS_SELECTOR, "button.edit").click()
    dialog = wait(driver).until(expected_conditions.visibility_of_element_located((By.ID, "fw-edit-rule")))
    assert dialog.find_element(By.NAME, "destination").get_attribute("value") == "203.0.113.7"
    port = dialog.find_element(By.NAME, "destinationPort")
    port.clear()
    port.send_keys("70000")
    dialog.find_element(By.ID, "fw-edit-save").click()
    error = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#fw-edit-rule .field-error") or None)
    assert "70000" in error[0].text, error[0].text
    screenshot_of(driver, request, "fw-rule-dialog", "edit-error")
    port.clear()
    port.send_keys("8443")
    dialog.find_element(By.ID, "fw-edit-save").click()
    wait(driver).until(lambda d: not d.find_element(By.ID, "fw-rule-dialog").is_displayed())
    wait(driver).until(lambda d: "8443" in rule_row(d, rule).text)
    stored = shared_gateway.api("GET", "/firewall", cookie=cookie(driver))[1]["configuration"]["rules"]
    assert [(r["id"], r["destinationPort"]) for r in stored] == [(rule, "8443")], stored

    # A second rule, moved to the top by typing its new position into the position column.
    other = add_rule(driver, destination="203.0.113.8", port="22", comment="smoke-2", applied=False)
    assert rule_ids(driver) == [rule, other]
    position = rule_row(driver, other).find_element(By.CSS_SELECTOR, "input.move-position")
    assert position.get_attribute("value") == "2"
    position.send_keys(Keys.BACKSPACE, "1", Keys.ENTER)
    wait(driver).until(lambda d: rule_ids(d) == [other, rule])
    stored = shared_gateway.api("GET", "/firewall", cookie=cookie(driver))[1]["configuration"]["rules"]
    assert [r["id"] for r in stored] == [other, rule], stored

    # An allowlist entry with an expiry, then deleted.
    form = driver.find_element(By.ID, "fw-allowlist-add")
    form.find_element(By.NAME, "address").send_keys("198.51.100.0/24")
    form.find_element(By.NAME, "ttlSeconds").send_keys("3600")
    form.find_element(By.NAME, "comment").send_keys("partner")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    row = wait(driver).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, '#fw-allowlist tbody tr[data-address="198.51.100.0/24"]') or None)[0]
    assert "partner" in row.text and "UTC" in row.text and "manual" in row.text, row.text
    screenshot_of(driver, request, "fw-allowlist-card", "allowlist")
    row.find_element(By.CSS_SELECTOR, "button.delete").click()
    wait(driver).until(expected_conditions.alert_is_present()).accept()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#fw-allowlist tbody tr.empty"))
    screenshot(driver, request)


def cookie(driver) -> str:
    """The browser's session cookie, for checking through the API what the page did."""
    return "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())


def screenshot_of(driver, request, element_id: str, step: str) -> Path:
    """A screenshot with the element `element_id` at the top of the window."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + f"-{step}.png")
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", element_id)
    assert driver.save_screenshot(str(target)), f"no screenshot written to {target}"
    return target
