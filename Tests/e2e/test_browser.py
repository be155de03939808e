"""The web UI in a real browser (SPEC WEB-3): headless Chromium driven by Selenium through /usr/bin/chromedriver.

Each page the tests check is saved as a screenshot under Tests/e2e/artifacts/<test name>[-<step>].png, and the
gateway's log as Tests/e2e/artifacts/ui-<name>.log.

The gateway runs with its HTTPS web UI on a loopback port (self-signed certificate, accepted by the browser). Tests
whose order does not matter share one gateway and one logged-in browser (module fixtures); the forced password
change and the idle expiry each need a fresh gateway. Only one web session may be active at a time, so the shared
browser stays logged in and a test that logs it out logs it in again (the `ui` fixture).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import ARTIFACTS, RAMPART_BIN, ManagedProcess, _free_port, wait_until

pytestmark = pytest.mark.rampart_only(reason="the web UI is a gateway feature; Mosquitto has none")

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
NEW_PASSWORD = "Gateway-Test-2024!"
START_TIMEOUT = 30.0
WAIT = 10.0          # a page reacting to one action
DESKTOP = (1280, 800)
TABLET = (800, 1100)


# ------------------------------------------------------------------ gateway

class Gateway(ManagedProcess):
    """`rampart run` with its web UI on a loopback port, in a temporary data directory removed at stop()."""

    def __init__(self, name: str, *extra: str):
        self.name = name
        self.workdir = Path(tempfile.mkdtemp(prefix="rampart-ui-"))
        self.data_dir = self.workdir / "data"
        self.mqtt_port = _free_port()
        self.web_port = _free_port()
        self.extra = list(extra)
        self.base = f"https://127.0.0.1:{self.web_port}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / ("ui-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".log")
        self.proc: subprocess.Popen | None = None
        self._logf = None

    def start(self) -> "Gateway":
        if not RAMPART_BIN.exists():
            raise RuntimeError(f"rampart binary not found at {RAMPART_BIN}: run `swift build` or set RAMPART_BIN")
        cmd = [str(RAMPART_BIN), "run", "--data-dir", str(self.data_dir),
               "--mqtt-port", str(self.mqtt_port), "--bind", "127.0.0.1",
               "--web-port", str(self.web_port), "--web-bind", "127.0.0.1",
               "--system-changes", "off", "--login-delay", "0.05", "--log-level", "info", *self.extra]
        self._logf = open(self.log_path, "wb")
        self._logf.write(("$ " + " ".join(cmd) + "\n").encode())
        self._logf.flush()
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not (self._accepts(self.web_port) and self.password_file.exists()):
            if self.proc.poll() is not None:
                raise RuntimeError(f"rampart exited with {self.proc.returncode}; log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the web UI did not come up within {START_TIMEOUT}s; log:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    @property
    def password_file(self) -> Path:
        return self.data_dir / "initial-admin-password"

    @property
    def initial_password(self) -> str:
        return self.password_file.read_text().strip()

    @staticmethod
    def _accepts(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # The REST API, for set-up only (what the tests check is done in the browser).
    def api(self, method: str, path: str, body=None, cookie: str | None = None, csrf: str | None = None):
        headers = {"Content-Type": "application/json"}
        if cookie:
            headers["Cookie"] = cookie
        if csrf:
            headers["X-CSRF-Token"] = csrf
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method, headers=headers)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(request, context=context, timeout=20) as response:
            return response, json.loads(response.read() or b"null")

    def replace_initial_password(self, new: str = NEW_PASSWORD) -> str:
        """Changes the initial password through the API and logs out, so that a browser can log in."""
        response, session = self.api("POST", "/session", {"user": "admin", "password": self.initial_password})
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        self.api("POST", "/account/password", {"current": self.initial_password, "new": new},
                 cookie=cookie, csrf=session["csrfToken"])
        self.api("DELETE", "/session", cookie=cookie, csrf=session["csrfToken"])
        return new


@pytest.fixture
def fresh_gateway(request):
    """A gateway of its own; options from @pytest.mark.gateway_args(...)."""
    marker = request.node.get_closest_marker("gateway_args")
    gateway = Gateway(request.node.name, *(marker.args if marker else ()))
    request.node._e2e_brokers = [gateway]
    try:
        yield gateway.start()
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def shared_gateway():
    gateway = Gateway("test_browser-shared").start()
    try:
        gateway.password = gateway.replace_initial_password()
        yield gateway
    finally:
        gateway.stop()


# ------------------------------------------------------------------ browser

class Browser:
    """A headless Chromium with a profile of its own (no shared cookies), quit and removed by close()."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="rampart-ui-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--ignore-certificate-errors",
                         "--lang=en-US", f"--user-data-dir={self.profile}", "--no-first-run",
                         "--disable-extensions", "--disable-background-networking"):
            options.add_argument(argument)
        options.accept_insecure_certs = True
        options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en",
                                                  "credentials_enable_service": False,
                                                  "profile.password_manager_enabled": False})
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(20)
        self.driver.set_script_timeout(10)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser_factory():
    made: list[Browser] = []

    def make() -> webdriver.Chrome:
        browser = Browser()
        made.append(browser)
        return browser.driver

    yield make
    for browser in made:
        browser.close()


@pytest.fixture(scope="module")
def shared_driver(shared_gateway):
    browser = Browser()
    try:
        yield browser.driver
    finally:
        browser.close()


@pytest.fixture
def ui(request, shared_gateway, shared_driver):
    """The shared browser, logged in to the shared gateway, in English, at the desktop size, on the dashboard."""
    request.node._e2e_brokers = [shared_gateway]
    driver = shared_driver
    driver.set_window_size(*DESKTOP)
    driver.get(shared_gateway.base + "/")
    if path(driver) == "/login":
        log_in(driver, shared_gateway.base, "admin", shared_gateway.password)
        wait_path(driver, "/")
    if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "en":
        driver.find_element(By.ID, "switch-language").click()
        wait_navigation(driver).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    return driver


# ------------------------------------------------------------------ helpers

def wait(driver, timeout: float = WAIT, poll: float = 0.05) -> WebDriverWait:
    return WebDriverWait(driver, timeout, poll_frequency=poll, ignored_exceptions=(StaleElementReferenceException,))


def wait_navigation(driver, timeout: float = WAIT, poll: float = 0.05) -> WebDriverWait:
    """A wait across a page load: Chromium answers some commands with transient errors while the page is replaced
    (e.g. "Node with given id does not belong to the document"), so any WebDriver error means "not yet"."""
    return WebDriverWait(driver, timeout, poll_frequency=poll, ignored_exceptions=(WebDriverException,))


def mark_page(driver) -> None:
    """Marks the current document, so that wait_reloaded() can tell when the script has replaced it."""
    driver.execute_script("window.__rampartTestPage = true")


def wait_reloaded(driver, timeout: float = WAIT) -> None:
    wait_navigation(driver, timeout).until(
        lambda d: d.execute_script("return !window.__rampartTestPage && document.readyState === 'complete'"))


def path(driver) -> str:
    return re.sub(r"^https://[^/]+", "", driver.current_url).split("?", 1)[0]


def wait_path(driver, expected: str, timeout: float = WAIT) -> None:
    try:
        wait_navigation(driver, timeout).until(lambda d: path(d) == expected)
    except Exception:
        raise AssertionError(f"the browser did not reach {expected} within {timeout}s; it is on {path(driver)}")


def screenshot(driver, request, step: str = "") -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + (f"-{step}" if step else "")
    target = ARTIFACTS / f"{name}.png"
    driver.execute_script("window.scrollTo(0, 0)")   # the top of the page: heading, badges, action results
    assert driver.save_screenshot(str(target)), f"no screenshot written to {target}"
    return target


def fill(driver, element_id: str, text: str) -> None:
    element = driver.find_element(By.ID, element_id)
    element.clear()
    element.send_keys(text)


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text.strip()


def log_in(driver, base: str, user: str, password: str) -> None:
    """Submits the log-in form; the caller waits for what should follow."""
    if path(driver) != "/login":
        driver.get(base + "/login")
    fill(driver, "login-user", user)
    fill(driver, "login-password", password)
    driver.execute_script("document.getElementById('login-result').textContent = ''")
    driver.find_element(By.ID, "login-submit").click()


def wait_result(driver, locator: tuple[str, str], timeout: float = WAIT) -> str:
    """The text a form's result element shows once the page script filled it."""
    return wait(driver, timeout).until(lambda d: d.find_element(*locator).text.strip() or None)


def clear_result(driver, css: str) -> None:
    driver.execute_script("document.querySelectorAll(arguments[0]).forEach(e => { e.textContent = ''; })", css)


def diagnostics(driver) -> list[str]:
    return [item.text.strip() for item in driver.find_elements(By.CSS_SELECTOR, "#diagnostics li")]


def save_config(driver, text: str) -> str:
    """Replaces the editor's text, saves it, and returns the save result ('✓' or 'N ✗')."""
    fill(driver, "config-text", text)
    clear_result(driver, "#editor .result")
    driver.find_element(By.ID, "save-config").click()
    return wait_result(driver, (By.CSS_SELECTOR, "#editor .result"))


def assert_no_diagnostics(driver) -> None:
    items = driver.find_elements(By.CSS_SELECTOR, "#diagnostics li")
    assert [i.get_attribute("class") for i in items] == ["none"], f"diagnostics: {diagnostics(driver)}"
    assert items[0].text.strip() == "No problems found."


def create_profile(driver, menu_id: str, name: str, template: str) -> None:
    """Creates a profile with the form of the profiles page behind `menu_id`; lands on the new profile's page."""
    listing, target = ("/broker", "/broker/profiles/") if menu_id == "menu-broker" else ("/settings/web", "/settings/web/")
    driver.find_element(By.ID, menu_id).click()
    wait_path(driver, listing)
    fill(driver, "new-profile-name", name)
    Select(driver.find_element(By.ID, "new-profile-template")).select_by_value(template)
    driver.find_element(By.ID, "create-profile-submit").click()
    wait_path(driver, target + name)


def activate(driver, expected_detail: str) -> None:
    """Presses "Set active", checks the result text, and waits for the reloaded page marking the profile active.

    The page shows the result for 0.6 s and then reloads itself; an observer copies what it shows into the tab's
    sessionStorage, which outlives the reload, so that a slow poll cannot miss it."""
    mark_page(driver)
    driver.execute_script("""
        const result = document.getElementById('action-result');
        sessionStorage.removeItem('rampart-test-result');
        new MutationObserver(() => sessionStorage.setItem('rampart-test-result',
            JSON.stringify([result.textContent, result.className])))
          .observe(result, {childList: true, characterData: true, subtree: true, attributes: true});""")
    driver.find_element(By.ID, "activate").click()
    shown = wait_navigation(driver).until(
        lambda d: d.execute_script("return sessionStorage.getItem('rampart-test-result')"))
    detail, classes = json.loads(shown)
    assert expected_detail in detail, detail
    assert "ok" in classes.split(), (detail, classes)
    wait_reloaded(driver)
    assert driver.find_element(By.ID, "profile-active").is_displayed()


def broker_state(driver, base: str) -> str:
    driver.get(base + "/")
    return driver.find_element(By.ID, "broker-state").get_attribute("data-state")


def accepts(port: int) -> bool:
    return Gateway._accepts(port)


def certificate_subject(port: int) -> str:
    result = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=15)
    subjects = [line for line in result.stdout.splitlines() if line.startswith("subject=")]
    assert subjects, f"openssl s_client printed no subject:\n{result.stdout}\n{result.stderr}"
    return subjects[0]


# ------------------------------------------------------------------ tests

def test_first_log_in_forces_a_password_change(fresh_gateway, browser_factory, request):
    driver = browser_factory()
    base = fresh_gateway.base
    initial = fresh_gateway.initial_password
    driver.get(base + "/")
    wait_path(driver, "/login")
    log_in(driver, base, "admin", initial)
    wait_path(driver, "/account/password")
    notice = driver.find_element(By.ID, "must-change")
    assert notice.is_displayed()
    assert "initial password must be changed" in notice.text
    rules = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#policy-rules li")]
    assert any("10" in rule for rule in rules), rules   # Medium: at least 10 characters
    screenshot(driver, request, "must-change")

    # Other pages are held back until the password is changed.
    driver.get(base + "/broker")
    wait_path(driver, "/account/password")

    def submit(current: str, new: str, repeat: str) -> str:
        fill(driver, "current-password", current)
        fill(driver, "new-password", new)
        fill(driver, "repeat-password", repeat)
        clear_result(driver, "#password-result")
        driver.find_element(By.ID, "password-submit").click()
        return wait_result(driver, (By.ID, "password-result"))

    def invalid_fields() -> list[str]:
        return [e.get_attribute("id") for e in driver.find_elements(By.CSS_SELECTOR, "#password-form .invalid")]

    violation = submit(initial, "short1A", "short1A")
    assert "password policy" in violation and "10" in violation, violation
    assert "error" in driver.find_element(By.ID, "password-result").get_attribute("class").split()
    assert path(driver) == "/account/password"
    assert invalid_fields() == ["new-password"]

    mismatch = submit(initial, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert mismatch == "The two new passwords differ", mismatch
    assert path(driver) == "/account/password"
    assert invalid_fields() == ["repeat-password"]
    screenshot(driver, request, "mismatch")

    fill(driver, "current-password", initial)
    fill(driver, "new-password", NEW_PASSWORD)
    fill(driver, "repeat-password", NEW_PASSWORD)
    driver.find_element(By.ID, "password-submit").click()
    wait_path(driver, "/")
    assert driver.find_element(By.ID, "broker-state").is_displayed()
    assert not driver.find_elements(By.ID, "must-change")
    # The new password is the one that counts: the password page no longer insists.
    driver.get(base + "/account/password")
    assert not driver.find_elements(By.ID, "must-change")
    driver.get(base + "/")
    screenshot(driver, request, "dashboard")


def test_layout_at_desktop_and_tablet_sizes(ui, request):
    driver = ui
    try:
        for (width, height), label in ((DESKTOP, "desktop"), (TABLET, "tablet")):
            driver.set_window_size(width, height)
            wait(driver).until(lambda d: d.execute_script("return window.innerWidth") <= width)
            menu = driver.find_element(By.ID, "menu")
            heading = driver.find_element(By.CSS_SELECTOR, "main h1")
            assert menu.is_displayed() and heading.is_displayed(), label
            assert heading.text == "Dashboard"
            user = driver.find_element(By.ID, "user-name").get_attribute("textContent").strip()
            assert user == "admin", f"the user menu names the user {user!r}"
            for item in ("menu-dashboard", "menu-broker", "menu-web", "logout", "switch-language"):
                assert driver.find_element(By.ID, item).is_displayed(), f"{item} hidden at {label} size"
            overflow = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {label} size"
            clipped = driver.execute_script(
                "return [...document.querySelectorAll('main .card')]"
                ".filter(c => c.scrollWidth > c.clientWidth).map(c => c.innerText.slice(0, 40))")
            assert not clipped, f"cards whose content is wider than the card at {label} size: {clipped}"
            m, h = menu.rect, heading.rect
            if label == "desktop":   # the menu is a column left of the content
                assert m["x"] + m["width"] <= h["x"] and m["height"] >= h["height"], (m, h)
            else:                    # the menu is a bar above the content
                assert m["y"] + m["height"] <= h["y"] and m["width"] > width * 0.8, (m, h)
            screenshot(driver, request, label)
    finally:
        driver.set_window_size(*DESKTOP)


def test_broken_active_profile_shows_diagnostics_and_misconfigured(ui, shared_gateway, request):
    driver, base = ui, shared_gateway.base
    assert driver.find_element(By.ID, "broker-state").get_attribute("data-state") == "configured"
    assert text_of(driver, "broker-state") == "configured"

    name = "diag-check"
    create_profile(driver, "menu-broker", name, "default")
    template = driver.find_element(By.ID, "config-text").get_attribute("value")
    assert f"listener {shared_gateway.mqtt_port} 127.0.0.1" in template, template
    extra_port = _free_port()
    valid = template.rstrip("\n") + f"\nlistener {extra_port} 127.0.0.1\n"
    assert save_config(driver, valid) == "✓"
    assert_no_diagnostics(driver)
    activate(driver, f"the broker runs profile '{name}'")
    assert wait_until(lambda: accepts(extra_port), timeout=10, message="the profile's listener")

    # Break the active profile: an unknown option on a known line.
    broken_line = len(valid.splitlines()) + 1
    result = save_config(driver, valid + "no_such_option 1\n")
    assert result == "1 ✗", result
    found = diagnostics(driver)
    assert len(found) == 1 and found[0].startswith(f"mosquitto.conf:{broken_line}: "), found
    assert "no_such_option" in found[0], found
    assert driver.find_element(By.CSS_SELECTOR, "#diagnostics li").get_attribute("class") == "error"
    screenshot(driver, request, "diagnostics")
    # A reload shows the same diagnostics, rendered by the server.
    driver.refresh()
    assert diagnostics(driver) == found

    assert broker_state(driver, base) == "misconfigured"
    assert text_of(driver, "broker-state") == "misconfigured"
    problems = text_of(driver, "broker-problems")
    assert f"mosquitto.conf:{broken_line}:" in problems, problems
    screenshot(driver, request, "misconfigured")

    # Fix it.
    driver.get(base + f"/broker/profiles/{name}")
    assert save_config(driver, valid) == "✓"
    assert_no_diagnostics(driver)
    assert broker_state(driver, base) == "configured"
    assert not driver.find_elements(By.ID, "broker-problems")
    assert text_of(driver, "broker-profile") == name
    screenshot(driver, request, "configured")


@pytest.mark.cli
def test_new_profile_listener_answers_mqtt(ui, shared_gateway, request):
    driver = ui
    new_port = _free_port()
    assert not accepts(new_port)
    name = "mqtt-flow"
    create_profile(driver, "menu-broker", name, "default")
    template = driver.find_element(By.ID, "config-text").get_attribute("value")
    assert f"listener {shared_gateway.mqtt_port} 127.0.0.1" in template, template
    assert save_config(driver, template.rstrip("\n") + f"\nlistener {new_port} 127.0.0.1\n") == "✓"
    assert_no_diagnostics(driver)
    assert not accepts(new_port), "saving must not apply the profile"
    activate(driver, f"the broker runs profile '{name}'")
    screenshot(driver, request)

    topic = f"test/x/{new_port}"
    subscriber = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(new_port), "-t", topic, "-C", "1", "-W", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Retained, so that the subscriber gets it whether it subscribes before or after the publication.
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(new_port), "-t", topic, "-m", "hello", "-r"],
                       check=True, timeout=10, capture_output=True)
        out, err = subscriber.communicate(timeout=15)
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.communicate()
    assert subscriber.returncode == 0, err
    assert out.strip() == "hello"


def test_language_switch_to_russian_and_back(ui, request):
    driver = ui

    def switch(to: str) -> None:
        mark_page(driver)
        driver.find_element(By.ID, "switch-language").click()
        wait_reloaded(driver)
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == to

    assert driver.find_element(By.CSS_SELECTOR, "main h1").text == "Dashboard"
    assert text_of(driver, "switch-language") == "Русский"
    switch("ru")
    assert driver.find_element(By.CSS_SELECTOR, "main h1").text == "Обзор"
    assert text_of(driver, "menu-broker") == "MQTT-брокер"
    assert text_of(driver, "switch-language") == "English"
    assert text_of(driver, "broker-state") == "настроен"
    # The choice is the account's: another page is Russian too.
    driver.find_element(By.ID, "menu-broker").click()
    wait_path(driver, "/broker")
    assert driver.find_element(By.CSS_SELECTOR, "main h1").text == "MQTT-брокер — Профили"
    screenshot(driver, request, "russian")
    switch("en")
    assert driver.find_element(By.CSS_SELECTOR, "main h1").text == "MQTT broker — Profiles"
    assert text_of(driver, "switch-language") == "Русский"
    screenshot(driver, request, "english")


def test_second_browser_is_refused_while_a_session_is_active(ui, shared_gateway, browser_factory, request):
    first, base = ui, shared_gateway.base
    second = browser_factory()
    second.get(base + "/login")
    log_in(second, base, "admin", shared_gateway.password)
    refusal = wait_result(second, (By.ID, "login-result"))
    assert "session" in refusal and re.search(r"\d{2}:\d{2}:\d{2}", refusal), refusal
    assert "error" in second.find_element(By.ID, "login-result").get_attribute("class").split()
    assert path(second) == "/login"
    screenshot(second, request, "refused")
    # The first browser was not disturbed.
    first.refresh()
    assert path(first) == "/"

    first.find_element(By.ID, "logout").click()
    wait_path(first, "/login")
    first.get(base + "/")
    wait_path(first, "/login")   # really logged out, not just sent to the log-in page

    try:
        log_in(second, base, "admin", shared_gateway.password)
        wait_path(second, "/")
        assert second.find_element(By.ID, "broker-state").is_displayed()
        screenshot(second, request, "second-logged-in")
    finally:
        # Give the session back to the shared browser (the `ui` fixture logs it in again).
        if second.find_elements(By.ID, "logout"):
            second.find_element(By.ID, "logout").click()
            wait_path(second, "/login")


@pytest.mark.gateway_args("--session-idle-timeout", "3")
def test_idle_session_expires(fresh_gateway, browser_factory, request):
    password = fresh_gateway.replace_initial_password()
    driver = browser_factory()
    driver.get(fresh_gateway.base + "/login")
    log_in(driver, fresh_gateway.base, "admin", password)
    wait_path(driver, "/")
    logged_in = time.monotonic()
    assert driver.find_element(By.ID, "broker-state").is_displayed()

    # Every page load uses the session and keeps it alive, so poll less often than the idle timeout (3 s).
    def expired(d) -> bool:
        d.refresh()
        return path(d) == "/login"

    wait(driver, timeout=15, poll=3.5).until(expired)
    assert time.monotonic() - logged_in >= 3, "the session ended before it was idle for 3 s"
    assert driver.find_element(By.ID, "login-user").is_displayed()
    assert not driver.find_elements(By.ID, "logout")
    screenshot(driver, request)


def test_web_server_profile_switch_changes_the_certificate(ui, shared_gateway, request):
    driver, port = ui, shared_gateway.web_port
    before = certificate_subject(port)
    assert "rampart-test" not in before, before

    with tempfile.TemporaryDirectory(prefix="rampart-ui-pem-") as folder:
        key, cert = Path(folder) / "k.pem", Path(folder) / "c.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", "/CN=rampart-test",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=20)
        pem = Path(folder) / "rampart-test.pem"
        pem.write_text(cert.read_text() + key.read_text())

        name = "tls-test"
        create_profile(driver, "menu-web", name, "")
        assert any("ssl_certificate is missing" in d for d in diagnostics(driver)), diagnostics(driver)
        mark_page(driver)
        driver.find_element(By.ID, "upload-file").send_keys(str(pem))
        driver.find_element(By.ID, "upload-submit").click()
        wait_reloaded(driver)
    row = wait(driver).until(lambda d: next(
        (r for r in d.find_elements(By.CSS_SELECTOR, "#files tbody tr") if "rampart-test.pem" in r.text), None))
    assert "CN=rampart-test" in row.text, row.text   # the subject column of the uploaded certificate

    assert save_config(driver, "ssl_certificate rampart-test.pem\n") == "✓"
    assert_no_diagnostics(driver)
    assert "rampart-test" not in certificate_subject(port), "saving must not switch the certificate"
    activate(driver, f"new connections use the certificate of '{name}'")
    screenshot(driver, request)

    after = certificate_subject(port)
    assert "CN = rampart-test" in after, after
    # The UI keeps working over the new certificate.
    driver.get(shared_gateway.base + "/settings/web")
    active = driver.find_element(By.CSS_SELECTOR, f'#profiles tr[data-profile="{name}"] .badge.ok')
    assert active.is_displayed()
