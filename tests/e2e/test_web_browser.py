"""The web view in a real browser (Debian's chromium through chromium-driver and selenium):
the sample's line, a run's log followed while it runs, the gated prod deploy approved from
the page, CSRF refusal and a signed-out browser that cannot act. Screenshots are saved
under the test's tmp folder.

Where no browser is installed the tests skip, saying so; on CI (CI or GITLINE_CI set)
that is a failure: .ci/run installs chromium, chromium-driver and graphviz.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.harness.absent import missing as absent
from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.http import serve_base as serve
from tests.harness.wait import wait_for

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"
# beside the sample: a job that prints a line a second for 10 s, to follow while it runs
SLOW = """
  - name: slow_printer
    type: runSh
    steps:
      - TASK:
          script:
            - 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i of N=$N"; sleep 1; done'
"""


def _browser_paths() -> tuple[str, str]:
    chromium = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                 shutil.which("google-chrome")) if p), None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver",) if os.path.exists(p)), None)
    missing = [what for what, path in (("chromium", chromium), ("chromedriver", driver))
               if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install '.[test]')")
    if missing:
        absent(f"no browser for the web view tests: {', '.join(missing)} missing "
               "(apt-get install chromium chromium-driver)")
    assert chromium and driver
    return chromium, driver


@pytest.fixture
def browser(tmp_path: Path):
    chromium, driver_path = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(0)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    driver.shots = shots  # type: ignore[attr-defined]
    yield driver
    driver.quit()


def shot(driver, name: str) -> Path:
    path = driver.shots / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 1000
    return path


def find(driver, css: str, timeout: float = 30.0):
    from selenium.webdriver.common.by import By

    def found():
        elements = driver.find_elements(By.CSS_SELECTOR, css)
        return elements[0] if elements else None
    return wait_for(found, timeout, css)


def text_of(driver, css: str) -> str:
    from selenium.webdriver.common.by import By

    elements = driver.find_elements(By.CSS_SELECTOR, css)
    return elements[0].text if elements else ""


def sign_in(driver, base: str, token: str) -> None:
    driver.get(base + "/login")
    find(driver, "#token").send_keys(token)
    find(driver, "#signin").click()
    wait_for(lambda: "signed in as" in driver.page_source, 10, "signed in")


@pytest.fixture
def sample(home: Home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    text = (home.work / "shippable.yml").read_text()
    home.write("shippable.yml", text.rstrip("\n") + "\n" + SLOW)
    tok = gitline("token", "add", home.path, "ada", "--scope", "read,trigger,approve",
                  "--email", "ada@example.com").stdout.strip()
    base = serve(home)
    home.push("sample line")
    return base, tok


def test_the_line_a_live_log_and_approving_prod_in_a_browser(home, sample, browser):
    base, tok = sample
    d = browser
    sign_in(d, base, tok)
    # the line: drawn by dot, and it changes colour by itself as the sample runs
    d.get(base + "/")
    svg = find(d, "#line svg")
    assert svg.is_displayed()
    wait_for(lambda: "deploy_staging: succeeded" in d.page_source, 90,
             "deploy_staging to turn green on the page")
    assert "deploy_prod: never run" in d.page_source
    assert 'stroke-dasharray' in d.page_source  # switch: off edges are dashed
    shot(d, "line")
    # nodes link to their pages
    node = "//*[local-name()='a'][@*[local-name()='href']='/jobs/deploy_staging']"
    d.find_element("xpath", node).click()
    wait_for(lambda: d.current_url.endswith("/jobs/deploy_staging"), 10, "the job's page")
    assert "up to date with run 1" in text_of(d, "#waiting")

    # trigger the slow job with a parameter from its page, then follow its log live
    d.get(base + "/jobs/slow_printer")
    find(d, "#trigger-form textarea").send_keys("N=7")
    find(d, "#trigger").click()
    wait_for(lambda: "Triggered slow_printer" in text_of(d, "#flash"), 10, "flash")
    find(d, "#runs a[href='/jobs/slow_printer/runs/1']", 60).click()
    find(d, "#livelog")
    wait_for(lambda: "line 1 of N=7" in text_of(d, "#livelog"), 30, "the first line")
    seen = text_of(d, "#livelog")
    assert "line 10" not in seen, "the log arrived only at the end, not as it ran"
    assert text_of(d, "#runstate") != "succeeded"
    shot(d, "live-log")
    wait_for(lambda: "line 3 of N=7" in text_of(d, "#livelog") or
             "line 3 of N=7" in text_of(d, "#log"), 10, "lines as they are printed")
    # at its end the page shows the final, recorded log
    wait_for(lambda: "line 10 of N=7" in text_of(d, "#log"), 30, "the final log")
    assert text_of(d, "#runstate") == "succeeded"
    shot(d, "finished-log")

    # the gated prod deploy: triggered and approved from the page, as ada's token
    d.get(base + "/jobs/deploy_prod")
    find(d, "#trigger-form textarea").send_keys("REASON=from the web")
    find(d, "#trigger").click()

    def approve_button():
        d.refresh()  # the forms are drawn for what waits when the page is loaded
        return find(d, "#runs", 5) and d.find_elements("css selector", "#approve")
    wait_for(approve_button, 60, "an approve button for the pending run")
    assert "pending approval" in text_of(d, "#jobstate")
    shot(d, "pending-approval")
    find(d, "#approve-form input[name=reason]").send_keys("looks good")
    find(d, "#approve").click()
    wait_for(lambda: "Approved deploy_prod" in text_of(d, "#flash"), 10, "approved")
    assert home.wait_runs("deploy_prod", 1, timeout=60) == ["run 1 succeeded"]
    assert home.git("log", "-1", "--format=%an|%s", "main").strip() == \
        "ada|approve deploy_prod (API, ada)"
    d.get(base + "/")
    wait_for(lambda: "deploy_prod: succeeded" in d.page_source, 30, "deploy_prod to turn green")
    shot(d, "prod-deployed")
    assert home.show("resources/prod_site/files/greeting.txt") == "Hello from production\n"


def test_csrf_refusal_and_a_signed_out_browser_cannot_act(home, sample, browser):
    base, tok = sample
    d = browser
    sign_in(d, base, tok)
    d.get(base + "/jobs/slow_printer")
    before = home.git("rev-parse", "main").strip()
    # a form whose CSRF token was tampered with is refused, and nothing is committed
    d.execute_script("document.querySelector('#trigger-form input[name=csrf]').value = 'x'")
    find(d, "#trigger").click()
    wait_for(lambda: "CSRF" in text_of(d, "#message"), 10, "the refusal")
    assert "Forbidden" in d.title
    shot(d, "csrf-refused")
    assert home.git("rev-parse", "main").strip() == before
    # signed out: no forms, and a form posted from an old page is refused
    d.get(base + "/jobs/slow_printer")
    stale = d.find_element("css selector", "#trigger-form input[name=csrf]").get_attribute(
        "value")
    find(d, "header form button").click()  # sign out
    wait_for(lambda: "/login" in d.current_url, 10, "sent to sign in")
    d.get(base + "/jobs/slow_printer")
    assert "/login" in d.current_url and not d.find_elements("css selector", "#trigger")
    d.execute_script(
        "var f = document.createElement('form'); f.method = 'post';"
        "f.action = '/jobs/slow_printer/trigger';"
        "var i = document.createElement('input'); i.name = 'csrf'; i.value = arguments[0];"
        "f.appendChild(i); document.body.appendChild(f); f.submit();", stale)
    wait_for(lambda: "Forbidden" in d.title, 10, "the refusal")
    shot(d, "signed-out-refused")
    time.sleep(0.5)
    assert home.git("rev-parse", "main").strip() == before
