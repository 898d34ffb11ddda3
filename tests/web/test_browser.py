"""The release flow in a real browser: Playwright drives Debian's chromium (headless, never a downloaded
browser) against the app served by uvicorn on loopback. A screenshot of each step is kept as an artefact in
the test's tmp folder (``screenshots/``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cgtqc.web.context import htmx_path

from .conftest import LOT, PASSWORD, USERS, endotoxin_files

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is not installed (make test installs it)")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


class Person:
    """One user in a browser context of their own (their own cookies), with screenshots numbered in order."""

    def __init__(self, browser, base: str, username: str, shots_dir: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1024, "height": 1366}, accept_downloads=True)
        self.page = self.context.new_page()
        self.base, self.username, self.shots_dir = base, username, shots_dir

    def shot(self, name: str) -> None:
        n = len(list(self.shots_dir.glob("*.png"))) + 1
        self.page.screenshot(path=str(self.shots_dir / f"{n:02d}-{self.username}-{name}.png"), full_page=True)

    def log_in(self) -> None:
        page = self.page
        page.goto(f"{self.base}/lots/{LOT}")
        assert "/login" in page.url  # not logged in: sent to the form, and back to the lot after it
        page.get_by_label("User name").fill(self.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"**/lots/{LOT}")
        assert page.get_by_text(USERS[self.username][0]).first.is_visible()

    def open_lot(self) -> None:
        self.page.goto(f"{self.base}/lots/{LOT}")

    def row(self, cqa: str):
        return self.page.locator("table.results tbody tr", has=self.page.locator(f"small:text-is('{cqa}')"))


def test_release_flow_in_chromium(browser, live_server, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    files = endotoxin_files(tmp_path / "plate")

    # 1. the analyst logs in and uploads the raw endotoxin plate export and its layout
    ana = Person(browser, live_server, "ana", shots)
    ana.log_in()
    ana.shot("lot-before-upload")
    assert ana.row("endotoxin").locator(".verdict").inner_text() == "pending"
    form = ana.page.locator("details", has_text="Bacterial endotoxins")
    form.locator("summary").click()
    if htmx_path().is_file():  # opening the form brings the engine's parameters as fields
        from playwright.sync_api import expect

        field = form.locator("input[name='param.min_abs_r']")
        expect(field).to_be_visible()
        assert field.get_attribute("placeholder") == "0.98"
        field.fill("0.97")
    form.get_by_label("Files").set_input_files([str(f) for f in files])
    form.get_by_role("button", name="Run the engine and record").click()
    ana.page.wait_for_url("**/lots/CART-0001?done=result")

    # 2. the computed result and its verdict appear, with the provenance and the engine's plot
    row = ana.row("endotoxin")
    assert row.locator(".verdict").inner_text() == "pass"
    assert "EU/mL" in row.locator("td.value").inner_text()
    prov = ana.page.locator("details", has_text="Provenance of endotoxin")
    assert "endotoxin" in prov.locator("summary").inner_text()
    prov.locator("summary").click()
    assert files[0].name in prov.inner_text() or files[1].name in prov.inner_text()
    if htmx_path().is_file():
        assert '"min_abs_r": 0.97' in prov.inner_text()
    assert ana.page.locator(".plots img").count() >= 1
    ana.shot("result-and-verdict")
    # the analyst may not sign the disposition: the button is disabled and says why
    assert ana.page.locator("#sign-button").is_disabled()
    assert "Only QA" in ana.page.locator("#sign-why").inner_text()

    # 3. a second person reviews (re-entering the password)
    rex = Person(browser, live_server, "rex", shots)
    rex.log_in()
    rex.page.get_by_label("Password (re-entered to sign)").fill(PASSWORD)
    rex.page.get_by_role("button", name="Review all results").click()
    rex.page.wait_for_url("**?done=reviewed")
    assert rex.page.locator("h1 .status").inner_text() == "reviewed"
    rex.shot("reviewed")

    # 4. QA signs: the manifestation shows printed name, meaning and the UTC time before the password
    quinn = Person(browser, live_server, "quinn", shots)
    quinn.log_in()
    assert quinn.page.locator("#sign-button").is_enabled()
    quinn.page.get_by_label("Meaning").select_option("released")
    quinn.page.locator("#sign-button").click()
    quinn.page.wait_for_url("**/sign?meaning=released")
    assert quinn.page.locator("#sig-name").inner_text() == "Quinn QA"
    assert quinn.page.locator("#sig-meaning").inner_text() == "released"
    assert len(quinn.page.locator("#sig-time").inner_text()) == 19  # YYYY-MM-DD HH:MM:SS
    quinn.shot("sign-manifestation")
    quinn.page.get_by_label("Password (re-entered").fill(PASSWORD)
    quinn.page.locator("#sign-confirm").click()
    quinn.page.wait_for_url("**?done=signed")
    assert quinn.page.locator("h1 .status").inner_text() == "released"
    assert "Quinn QA" in quinn.page.locator("section", has_text="Signatures").inner_text()
    quinn.shot("released")

    # 5. the CoA downloads as a PDF
    with quinn.page.expect_download() as dl:
        quinn.page.get_by_role("link", name="Download CoA (PDF)").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")

    # 6. the wrong user: the sign button is disabled for the analyst, and a direct POST answers 403
    ana.open_lot()
    assert ana.page.locator("#sign-button").is_disabled()
    token = ana.page.locator("input[name=csrf_token]").first.get_attribute("value")
    r = ana.page.request.post(
        f"{live_server}/lots/{LOT}/sign",
        form={"csrf_token": token, "meaning": "released", "password": PASSWORD},
    )
    assert r.status == 403
    ana.shot("wrong-user")
    for p in (ana, rex, quinn):
        p.context.close()
    assert len(list(shots.glob("*.png"))) == 6


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML)"""


def test_keyboard_tablet_and_htmx_in_chromium(browser, live_server, tmp_path):
    """Keyboard only: the skip link comes first and lands on the content; every field has a label; a tablet's
    width needs no sideways scrolling; the lot search swaps the rows in place when HTMX is installed (and
    works as a plain form when it is not)."""
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = browser.new_context(viewport={"width": 768, "height": 1024}, has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    # log in with the keyboard alone: skip link, the site's name, then the form
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "brand"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("rex")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/lots")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    assert page.evaluate("document.activeElement.id") == "main"
    for path in ("/lots", f"/lots/{LOT}", "/specs/car_t", f"/audit?lot={LOT}", f"/lots/{LOT}/sign"):
        page.goto(f"{live_server}{path}")
        assert page.evaluate(UNLABELLED) == [], path
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    page.goto(f"{live_server}/lots")
    page.screenshot(path=str(shots / "tablet-lots.png"), full_page=True)
    from playwright.sync_api import expect

    htmx = page.evaluate("typeof window.htmx") == "object"
    assert htmx == htmx_path().is_file()  # installed means loaded (the CSP lets it run)
    page.evaluate("window.__same_page = true")
    page.get_by_label("Search").fill("AAV")
    if htmx:
        expect(page.locator("#lot-rows tr")).to_have_count(1)
        assert page.evaluate("window.__same_page") is True  # rows swapped, the page was not reloaded
    else:
        page.get_by_label("Search").press("Enter")
        page.wait_for_url("**q=AAV**")
    assert page.locator("#lot-rows").inner_text().startswith("AAV-0001")
    context.close()
