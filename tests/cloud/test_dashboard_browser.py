"""The dashboard in a real headless Chromium against the app served by waitress.

A teacher adds a classroom and a student with a photo, opens a session, and
sees the student appear in the live attendance (without reloading) when the
cloud records a face crop; then reviews an unknown face. Screenshots go to
/tmp/rollcall-dashboard-*.png.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import pytest

from common.images import encode_jpeg
from cloud.app import create_app
from tests.cloud.api_support import face_crop, make_service
from tests.conftest import require_asset

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = Path(os.environ.get("ROLLCALL_SCREENSHOT_DIR", "/tmp"))


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} missing (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _square_crop(path: Path, size: int = 160) -> bytes:
    """A square centre crop of a photo, like the edge's face crops."""
    image = cv2.imread(str(path))
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = max(0, (h - side) // 3), (w - side) // 2
    return encode_jpeg(cv2.resize(image[top : top + side, left : left + side], (size, size)), 90)


@pytest.fixture()
def served(tmp_path):
    """The app on 127.0.0.1:<free port> in a waitress thread."""
    from waitress.server import create_server

    service, recognizer = make_service(tmp_path)
    app = create_app(service=service, settings=service.settings)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", service, recognizer
    server.close()
    thread.join(timeout=5)


@pytest.fixture()
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        yield instance
        instance.close()


def _page(browser, base_url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("request", lambda req: None if req.url.startswith(base_url) else problems.append(f"external request: {req.url}"))
    page.on("dialog", lambda dialog: dialog.accept())
    return page, problems


def test_teacher_enrols_opens_session_and_sees_attendance_live(served, browser):
    base_url, service, recognizer = served
    photo = require_asset("faces/enroll/obama/1.jpg")
    probe = require_asset("faces/probe/obama1.jpg")
    stranger_photo = require_asset("faces/probe/test_unknown_elon_musk.jpg")
    page, problems = _page(browser, base_url)

    # --- classroom through the UI
    page.goto("/classrooms")
    page.fill("#classroom-id", "room-101")
    page.fill("#classroom-name", "Room 101 (Science)")
    page.click("#classroom-form button[type=submit]")
    page.wait_for_selector("tr[data-classroom-id='room-101']")

    # --- student with a photo through the UI
    page.goto("/students")
    page.fill("#student-id", "s1001")
    page.fill("#student-name", "Barack Obama")
    page.fill("#student-email", "barack@example.org")
    page.set_input_files("#student-photo", str(photo))
    page.click("#student-form button[type=submit]")
    page.wait_for_selector(".notice.success:has-text('photo enrolled')")
    page.wait_for_selector("tr[data-student-id='s1001'][data-faces='1']")
    assert len(recognizer.collection) == 1
    # a second student, photo added from the table row
    page.fill("#student-id", "s1002")
    page.fill("#student-name", "Grace Hopper")
    page.click("#student-form button[type=submit]")
    page.wait_for_selector("tr[data-student-id='s1002']")
    page.set_input_files("tr[data-student-id='s1002'] input[type=file]", str(require_asset("faces/enroll/rose_leslie/1.jpg")))
    page.wait_for_selector("tr[data-student-id='s1002'][data-faces='1']")

    # an API error is shown to the user: duplicate id
    page.fill("#student-id", "s1001")
    page.fill("#student-name", "Someone Else")
    page.click("#student-form button[type=submit]")
    error = page.wait_for_selector(".notice.error")
    assert "already exists" in error.inner_text()
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-students.png"), full_page=True)

    # --- open a session through the UI on the live page
    page.goto("/")
    page.select_option("#classroom-select", "room-101")
    page.fill("#session-name", "Biology, period 2")
    page.click("#open-session")
    page.wait_for_selector("#close-session:visible")
    [session] = service.list_sessions(classroom_id="room-101", status="open")
    assert session.name == "Biology, period 2"
    assert page.locator("#attendance-rows tr").count() == 0

    # --- the cloud records a face crop; the row appears without a reload
    page.evaluate("window.__noReload = 'still here'")
    crop = _square_crop(probe)
    recognizer.shows(crop, "s1001", 99.2)
    result = service.process_crop(face_crop(crop, "room-101", camera_id="cam-front"))
    assert result.header.meta["status"] == "recognised"
    started = time.monotonic()
    row = page.wait_for_selector("#attendance-rows tr[data-student-id='s1001']", timeout=8_000)
    appeared_s = time.monotonic() - started
    assert page.evaluate("window.__noReload") == "still here"
    text = row.inner_text()
    assert "Barack Obama" in text and "cam-front" in text and "99.2%" in text
    assert page.inner_text("#stat-present") == "1"
    assert "Grace Hopper" in page.inner_text("#missing-list")
    print(f"attendance row appeared {appeared_s:.2f} s after the crop was recorded")

    # an unknown face shows up for review
    stranger = _square_crop(stranger_photo)
    recognizer.shows(stranger, None)
    service.process_crop(face_crop(stranger, "room-101", camera_id="cam-back"))
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-live.png"), full_page=True)

    # --- unknown face review: assign to Grace Hopper
    page.goto("/unknown")
    card = page.wait_for_selector(".face-card")
    img_ok = page.evaluate("document.querySelector('.face-card img').naturalWidth > 0")
    assert img_ok, "the evidence thumbnail did not load"
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-unknown.png"), full_page=True)
    card.query_selector("select").select_option("s1002")
    card.query_selector("button.primary").click()
    page.wait_for_selector(".notice.success:has-text('Assigned')")
    page.wait_for_selector("#faces-empty:visible")
    records = service.attendance_for_session(session.session_id)
    assert sorted(r.student_id for r in records) == ["s1001", "s1002"]

    # --- history: session page lists both, CSV link works, close the session
    page.goto("/sessions")
    page.wait_for_selector(f"tr[data-session-id='{session.session_id}']")
    csv_href = page.get_attribute(f"tr[data-session-id='{session.session_id}'] a[download]", "href")
    csv_text = page.evaluate("(href) => fetch(href).then(r => r.text())", csv_href)
    assert "s1001" in csv_text and "s1002" in csv_text
    page.click(f"tr[data-session-id='{session.session_id}'] a:has-text('View')")
    page.wait_for_selector("#attendance-rows tr[data-student-id='s1002']")
    page.click("#close-session")
    page.wait_for_selector("#session-status.closed")
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-session.png"), full_page=True)
    assert service.get_session(session.session_id).status == "closed"

    expected = "the server responded with a status of 409"  # the duplicate student above
    assert [p for p in problems if expected not in p] == [], problems
