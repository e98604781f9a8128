"""The dashboard in a real headless Chromium against the app served by waitress.

A teacher adds a classroom and a student with a photo, opens a session, and
sees the student appear in the live attendance (without reloading) when the
cloud records a face crop; then reviews an unknown face. Every page is reached
through the real login page; lists are paginated at 3 items a page so the
dashboard must follow ``next``. Screenshots go to /tmp/rollcall-dashboard-*.png.
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
from tests.cloud.api_support import TEST_PASSWORD, face_crop, make_service
from tests.conftest import require_asset, require_path

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
    require_path(CHROMIUM, "headless browser", "apt-get install -y chromium")


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

    service, recognizer = make_service(tmp_path, page_size=3)
    app = create_app(service=service, settings=service.settings)
    app.extensions["rollcall_auth"].accounts.create_user("ms.frizzle", "admin", TEST_PASSWORD, "test")
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", service, recognizer
    from waitress import wasyncore

    server.task_dispatcher.shutdown(timeout=2)
    wasyncore.close_all(server._map)  # the listening socket and every open connection: run() returns
    thread.join(timeout=5)
    assert not thread.is_alive(), "waitress did not stop"


@pytest.fixture(scope="module")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        yield instance
        instance.close()


@pytest.fixture()
def contexts():
    """Browser contexts opened by a test, closed after it."""
    opened: list = []
    yield opened
    for context in opened:
        context.close()


def _page(browser, base_url: str, contexts: list):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=base_url)
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("request", lambda req: None if req.url.startswith(base_url) else problems.append(f"external request: {req.url}"))
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page)
    return page, problems


def log_in(page, password: str = TEST_PASSWORD) -> None:
    """Through the real login page: any page redirects there, and back after the login."""
    page.goto("/classrooms")
    page.wait_for_selector("#login-title")
    assert "/login?next=/classrooms" in page.url
    page.fill("#username", "ms.frizzle")
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_selector("#logout")
    assert page.url.endswith("/classrooms")


def test_teacher_enrols_opens_session_and_sees_attendance_live(served, browser, contexts):
    base_url, service, recognizer = served
    photo = require_asset("faces/enroll/obama/1.jpg")
    probe = require_asset("faces/probe/obama1.jpg")
    stranger_photo = require_asset("faces/probe/test_unknown_elon_musk.jpg")
    page, problems = _page(browser, base_url, contexts)

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
    deadline = time.monotonic() + 5
    while not page.evaluate("document.querySelector('.face-card img').naturalWidth > 0") and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert page.evaluate("document.querySelector('.face-card img').naturalWidth > 0"), "the evidence thumbnail did not load"
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

    # --- users page (admin): add a teacher, create a token (shown once) and check it works, revoke it
    page.goto("/users")
    page.wait_for_selector("tr[data-username='ms.frizzle']")
    page.fill("#user-name", "mr.teacher")
    page.fill("#user-password", "a long teacher password")
    page.click("#user-form button[type=submit]")
    page.wait_for_selector("tr[data-username='mr.teacher']:has-text('teacher')")
    page.fill("#token-name", "nightly-export")
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#new-token-box:visible")
    token = page.input_value("#new-token")
    assert token.startswith("rct_")
    answer = page.evaluate(
        "(t) => fetch('/api/me', {credentials: 'omit', headers: {Authorization: 'Bearer ' + t}}).then(r => r.json())", token
    )
    assert answer == {"actor": "token:nightly-export", "role": "teacher"}
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-users.png"), full_page=True)
    page.click("tr[data-token='nightly-export'] button:has-text('Revoke')")
    page.wait_for_selector("tr[data-token='nightly-export'] .badge.closed")

    expected = "the server responded with a status of 409"  # the duplicate student above
    assert [p for p in problems if expected not in p] == [], problems


def test_errors_empty_states_and_scheduling(served, browser, contexts, tmp_path):
    from playwright.sync_api import expect

    base_url, service, recognizer = served
    # recognition down (before the login page's health check, which is cached): every page says so;
    # no classroom yet: the live page says what to do
    recognizer.available = False
    page, problems = _page(browser, base_url, contexts)
    page.goto("/")
    page.wait_for_selector("#no-classrooms:visible")
    banner = page.wait_for_selector("#health-banner:visible")
    assert "Face recognition is unavailable" in banner.inner_text()
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-degraded.png"), full_page=True)
    recognizer.available = True

    # a photo without a face: the API's reason is shown, nothing is enrolled
    service.create_student("s1", "Ada Lovelace")
    for n in range(2, 9):  # 8 students: three pages of 3, all shown
        service.create_student(f"s{n}", f"Student {n}")
    no_face = _square_crop(require_asset("faces/probe/obama_partial_face.jpg"))
    recognizer.faces_in(no_face, 0)
    photo = tmp_path / "no-face.jpg"
    photo.write_bytes(no_face)
    page.goto("/students")
    page.wait_for_selector("tr[data-student-id='s1'][data-faces='0']")
    page.wait_for_selector("tr[data-student-id='s8']")
    expect(page.locator("#student-rows tr")).to_have_count(8)
    page.set_input_files("tr[data-student-id='s1'] input[type=file]", str(photo))
    error = page.wait_for_selector(".notice.error")
    assert "no usable face" in error.inner_text()
    assert service.list_faces("s1") == []
    # a file that is not an image
    text_file = photo.with_suffix(".txt")
    text_file.write_text("hello")
    page.set_input_files("tr[data-student-id='s1'] input[type=file]", str(text_file))
    page.wait_for_selector(".notice.error:has-text('not a JPEG or PNG')")

    # classrooms: add one, open and close its session from the table
    page.goto("/classrooms")
    page.fill("#classroom-id", "lab-2")
    page.fill("#classroom-name", "Chemistry lab")
    page.click("#classroom-form button[type=submit]")
    page.click("tr[data-classroom-id='lab-2'] button:has-text('Open session')")
    page.wait_for_selector("tr[data-classroom-id='lab-2'] .badge.open")
    page.fill("#classroom-id", "bad id!")
    page.fill("#classroom-name", "Nope")
    page.click("#classroom-form button[type=submit]")
    page.wait_for_selector(".notice.error:has-text('classroom_id')")
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-classrooms.png"), full_page=True)
    page.click("tr[data-classroom-id='lab-2'] button:has-text('Close session')")
    page.wait_for_selector("tr[data-classroom-id='lab-2'] button:has-text('Open session')")

    # sessions: schedule one for tomorrow; an overlapping one is refused with the API's reason
    page.goto("/sessions")
    page.wait_for_selector("#schedule-classroom option[value='lab-2']", state="attached")
    page.fill("#schedule-name", "Tomorrow's lab")
    page.fill("#schedule-start", "2099-03-01T09:00")
    page.fill("#schedule-end", "2099-03-01T10:30")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_selector("tr:has-text(\"Tomorrow's lab\") .badge.scheduled")
    page.fill("#schedule-start", "2099-03-01T10:00")
    page.fill("#schedule-end", "2099-03-01T11:00")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_selector(".notice.error:has-text('overlapping')")
    page.select_option("#filter-status", "closed")
    expect(page.locator("#session-rows tr")).to_have_count(1)
    page.select_option("#filter-status", "")
    expect(page.locator("#session-rows tr")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-sessions.png"), full_page=True)

    # a phone-sized screen
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/?classroom=lab-2")
    page.wait_for_selector("#open-session:visible")
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-phone.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page scrolls sideways by {overflow}px on a phone"

    # log out: back to the login page, and the dashboard is closed again
    page.click("#logout")
    page.wait_for_selector("#login-title")
    page.goto("/students")
    page.wait_for_selector("#login-title")
    # a wrong password is refused with a message, and the form is still there
    page.fill("#username", "ms.frizzle")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    assert "Wrong username or password" in page.wait_for_selector("#login-error").inner_text()
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-dashboard-login.png"), full_page=True)

    allowed = ("status of 409", "status of 422", "status of 415", "status of 401")
    assert [p for p in problems if not any(a in p for a in allowed)] == [], problems
