"""The teacher's whole flow in a real headless Chromium, with real face matching (issue 14 "Done when"):
import a roster, give the course a classroom and a weekly slot, the scheduler opens the session by
itself, a camera run (real probe photos through the crop path, recognised by the local
Rekognition-compatible service) marks some students present, the teacher excuses one and corrects a
wrong match, and the session CSV, the course's term CSV and XLSX list every roster student with the
right state. Then the report page, the live page's "not seen yet", dark mode and a phone screen.
Screenshots go to /tmp/rollcall-teacher-*.png."""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from cloud.app import create_app
from cloud.bootstrap import build_service
from cloud.records import Sighting
from cloud.settings import CloudSettings
from cloud.timetable import TimetableScheduler
from tests.cloud.api_support import TEST_PASSWORD, face_crop
from tests.cloud.test_dashboard_browser import SCREENSHOT_DIR, _page, browser, contexts, log_in  # noqa: F401 (fixtures)
from tests.conftest import require_asset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# student id, name, enrolment photo, on the roster of bio-101
STUDENTS = [
    ("s1", "Barack Obama", "faces/enroll/obama/1.jpg"),
    ("s2", "Guido van Rossum", "faces/enroll/guido_van_rossum/1.jpg"),
    ("s3", "Rose Leslie", "faces/enroll/rose_leslie/1.jpg"),
    ("s4", "Joe Biden", "faces/enroll/biden/1.jpg"),
]
VISITOR = ("v1", "Paul Allen", "faces/enroll/paul_allen/1.jpg")
ROSTER_CSV = "student_id,name,email,course\n" + "".join(
    f"{sid},{name},{sid}@school.example,bio-101\n" for sid, name, _ in STUDENTS
) + "x y,Broken Row,,bio-101\n"


def _school_zone() -> str:
    """A zone where it is now between 01:00 and 21:59, so a slot around now stays within the day."""
    for name in ("UTC", "Etc/GMT-6", "Etc/GMT+6", "Etc/GMT-12"):
        if 1 <= datetime.now(ZoneInfo(name)).hour <= 21:
            return name
    return "UTC"  # pragma: no cover


@pytest.fixture(scope="module")
def rekognition(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from rekognition_local.app import RunningServer, build
    from rekognition_local.settings import RekognitionSettings

    models = require_asset("models/face_detection_yunet_2023mar.onnx").parent
    settings = RekognitionSettings(models_dir=models, models_mirror="", data_dir=tmp_path_factory.mktemp("rek"),
                                   access_keys=("AKIDTEACHER:teacher-secret",))
    server = RunningServer(build(settings), "127.0.0.1", 0, threads=2).start()
    yield server.url
    server.stop()


@pytest.fixture()
def served(rekognition: str, tmp_path, monkeypatch):
    """The cloud on the local Rekognition service, its timetable scheduler running every 0.3 s."""
    from waitress import wasyncore
    from waitress.server import create_server

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTEACHER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "teacher-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    settings = CloudSettings(rekognition_endpoint_url=rekognition, data_dir=tmp_path / "cloud",
                             collection_id=f"teacher-{uuid.uuid4().hex[:8]}", school_timezone=_school_zone(),
                             timetable_interval_s=0.3, late_grace_minutes=10)
    service = build_service(settings)
    scheduler = TimetableScheduler(service.timetable).start()
    app = create_app(service=service, settings=settings)
    app.extensions["rollcall_auth"].accounts.create_user("ms.frizzle", "teacher", TEST_PASSWORD, "test")
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress-teacher", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", service
    scheduler.stop()
    server.task_dispatcher.shutdown(timeout=2)
    wasyncore.close_all(server._map)
    thread.join(timeout=5)
    service.store.close()


def _camera_run(service, classroom_id: str, probe: str, track_id: int) -> str:
    """Crops of one person's track, as the edge sends them (two looks at the face)."""
    image = require_asset(probe).read_bytes()
    statuses = [service.process_crop(face_crop(image, classroom_id, camera_id="cam-front", track_id=track_id))
                .header.meta for _ in range(2)]
    return statuses[-1]["status"]


def test_teacher_flow_roster_timetable_camera_corrections_exports(served, browser, contexts, tmp_path):
    base_url, service = served
    page, problems = _page(browser, base_url, contexts)
    service.create_classroom("room-101", "Room 101")

    # --- 1. import a roster: the preview says what will change and which row is wrong; then apply
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text(ROSTER_CSV)
    page.goto("/courses")
    page.set_input_files("#roster-file", str(roster_file))
    page.click("#import-preview-button")
    page.wait_for_selector("#import-preview:visible")
    summary = page.inner_text("#import-summary")
    assert "4 new students" in summary and "new courses: bio-101" in summary and "1 with errors" in summary
    assert "student_id" in page.inner_text("#import-rows tr.row-error")
    assert service.list_students() == []  # the preview changed nothing
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-teacher-import.png"), full_page=True)
    page.click("#import-apply")
    page.wait_for_selector(".notice.success:has-text('Roster imported')")
    page.wait_for_selector("tr[data-course-id='bio-101']")
    assert [s.student_id for s in service.list_students()] == ["s1", "s2", "s3", "s4"]

    # students' photos (enrolment is the Students page's job, tested elsewhere); a visitor not on the roster
    service.create_student(VISITOR[0], VISITOR[1])
    for sid, _, photo in [*STUDENTS, VISITOR]:
        service.enrol_photo(sid, require_asset(photo).read_bytes())

    # --- 2. the course gets its classroom and a weekly slot around now (school time zone)
    page.click("tr[data-course-id='bio-101'] a:has-text('Open')")
    page.wait_for_selector("#course-title:has-text('bio-101')")
    page.select_option("#edit-classroom", "room-101")
    page.fill("#edit-name", "Biology 101")
    page.click("#course-edit button[type=submit]")
    page.wait_for_selector("#course-meta:has-text('meets in room-101')")
    local_now = datetime.now(ZoneInfo(service.settings.school_timezone))
    start, end = local_now - timedelta(minutes=3), local_now + timedelta(minutes=90)
    page.select_option("#slot-day", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][local_now.weekday()])
    page.fill("#slot-start", start.strftime("%H:%M"))
    page.fill("#slot-end", min(end, local_now.replace(hour=23, minute=59)).strftime("%H:%M"))
    page.click("#slot-form button[type=submit]")
    slot_added = time.monotonic()
    page.wait_for_selector("#slot-rows tr[data-slot-id]")
    assert page.locator("#roster-rows tr").count() == 4

    # --- 3. the session opens by itself (the scheduler thread), and the course page shows it
    row = page.wait_for_selector("#course-session-rows tr[data-status='open']", timeout=15_000)
    session_id = row.get_attribute("data-session-id")
    print(f"the timetable's session showed as open {time.monotonic() - slot_added:.2f} s after the slot was added")
    session = service.get_session(session_id)
    assert session.course_id == "bio-101" and session.scheduled and session.session_id.startswith("tt-")
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-teacher-course.png"), full_page=True)
    page.click(f"#course-session-rows tr[data-session-id='{session_id}'] a:has-text('View')")
    page.wait_for_selector("#attendance-rows tr[data-student-id='s4'][data-state='absent']")

    # --- 4. a camera run: Obama and Guido recognised (present), Paul Allen is a visitor
    crops_sent = time.monotonic()
    assert _camera_run(service, "room-101", "faces/probe/obama1.jpg", 1) == "recognised"
    assert _camera_run(service, "room-101", "faces/probe/test_guido_van_rossum.jpg", 2) == "recognised"
    assert _camera_run(service, "room-101", "faces/probe/test_paul_allen.jpg", 3) == "recognised"
    page.wait_for_selector("#attendance-rows tr[data-student-id='s1'][data-state='present_camera']", timeout=8_000)
    page.wait_for_selector("#attendance-rows tr[data-student-id='s2'][data-state='present_camera']")
    page.wait_for_selector("#visitor-rows tr[data-student-id='v1']")
    print(f"6 crops recognised and shown on the session page in {time.monotonic() - crops_sent:.2f} s")
    assert page.inner_text("#stat-present") == "2" and page.inner_text("#stat-absent") == "2"
    assert "Emotion detection is off" in page.inner_text("#emotions-empty")  # says why there is no distribution

    # the live page: "not seen yet" is the roster minus those present; the visitor is flagged
    live, _ = _page(browser, base_url, contexts)
    live.goto("/?classroom=room-101")
    live.wait_for_selector("#missing-list li")
    missing = live.inner_text("#missing-list")
    assert "Rose Leslie" in missing and "Joe Biden" in missing and "Obama" not in missing and "Paul Allen" not in missing
    live.wait_for_selector("#attendance-rows tr[data-student-id='v1'] .badge.state-visitor")
    assert live.inner_text("#stat-present") == "2"

    # --- 5. the teacher excuses Rose, and corrects Guido's match (it was someone else): absent, crop kept
    page.select_option("#mark-s3-state", "excused")
    page.fill("#mark-s3-reason", "Doctor's appointment")
    page.click("#attendance-rows tr[data-student-id='s3'] button:has-text('Save')")
    page.wait_for_selector("#attendance-rows tr[data-student-id='s3'][data-state='excused']")
    page.select_option("#mark-s2-state", "absent")
    page.wait_for_timeout(2500)  # a live refresh (every 2 s) must not reset the state the teacher chose
    assert page.eval_on_selector("#mark-s2-state", "el => el.value") == "absent"
    page.click("#attendance-rows tr[data-student-id='s2'] button:has-text('Save')")  # no reason: refused
    page.wait_for_selector(".notice.error:has-text('Say why')")
    page.fill("#mark-s2-reason", "Wrong match: not Guido")
    page.click("#attendance-rows tr[data-student-id='s2'] button:has-text('Save')")
    page.wait_for_selector("#attendance-rows tr[data-student-id='s2'][data-state='absent']")
    page.wait_for_selector("#mark-rows tr:has-text('Wrong match: not Guido')")
    assert page.inner_text("#stat-present") == "1" and page.inner_text("#stat-excused") == "1"
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-teacher-session.png"), full_page=True)
    guido = service.attendance.record_of(session_id, "s2")
    assert guido is not None and guido.evidence_ref and service.get_evidence(guido.evidence_ref)  # evidence kept

    # --- 6. the session CSV and the course's term CSV and XLSX list every roster student with the right state
    expected = {"s1": "present_camera", "s2": "absent", "s3": "excused", "s4": "absent"}
    csv_href = page.get_attribute("#csv-link", "href")
    session_rows = list(csv.DictReader(io.StringIO(page.evaluate("(h) => fetch(h).then(r => r.text())", csv_href))))
    assert {r["student_id"]: r["state"] for r in session_rows} == {**expected, "v1": "visitor"}
    assert next(r for r in session_rows if r["student_id"] == "s2")["reason"] == "Wrong match: not Guido"
    page.goto("/courses/bio-101")
    page.wait_for_selector(f"#course-session-rows tr[data-session-id='{session_id}']")
    term_csv = page.evaluate("(h) => fetch(h).then(r => r.text())", page.get_attribute("#export-csv", "href"))
    grid = list(csv.reader(io.StringIO(term_csv)))
    assert len(grid[0]) == 2 + 1 + 5 + 1  # student_id, name, one session, five state counts, rate
    assert {row[0]: row[2] for row in grid[1:]} == expected
    with page.expect_download() as download:
        page.click("#export-xlsx")
    xlsx_path = tmp_path / "term.xlsx"
    download.value.save_as(xlsx_path)
    sheet = load_workbook(xlsx_path)["attendance"]
    assert {r[0]: r[2] for r in sheet.iter_rows(min_row=2, values_only=True)} == expected

    # the report page: a student's rate
    page.goto("/reports?student=s1")
    page.wait_for_selector("#report-session-rows tr[data-state='present_camera']")
    assert page.inner_text("#report-rate") == "100%"
    page.select_option("#report-student", "s2")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#report-session-rows tr[data-state='absent']")
    assert page.inner_text("#report-rate") == "0%"

    # audit trail: who, when, why
    marks = [e for e in service.privacy.audit.entries() if e["action"] == "attendance_marked"]
    assert [(e["student_id"], e["state"], e["reason"]) for e in marks] == [
        ("s3", "excused", "Doctor's appointment"), ("s2", "absent", "Wrong match: not Guido")]
    assert {e["actor"] for e in marks} == {"user:ms.frizzle"}  # who: the logged-in teacher
    assert problems == []  # the mark without a reason was refused in the page, before any request


def test_teacher_pages_dark_mode_and_phone_width(served, browser, contexts, tmp_path):
    base_url, service = served
    service.create_classroom("room-1")
    service.courses.create_course("chem", "Chemistry", "room-1")
    service.create_student("s1", "Ada Lovelace")
    service.courses.enrol("chem", "s1")
    service.timetable.add_slot("chem", "fri", "08:00", "09:30")
    session = service.courses.open_course_session("chem")
    # seed 003: an emotion stored with the sighting (real Rekognition with ROLLCALL_CLOUD_DETECT_EMOTIONS)
    service.store.record_sighting(Sighting("m1", session.session_id, "s1", "cam-1", session.starts_ms + 1000, 99.0,
                                           emotion="HAPPY"))
    context = browser.new_context(viewport={"width": 390, "height": 800}, base_url=base_url, color_scheme="dark")
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: None if req.url.startswith(base_url) else errors.append(f"external {req.url}"))
    log_in(page)
    # a calendar import on the course page: its weekly event becomes a slot, a one-off event is explained
    page.goto("/courses/chem")
    page.wait_for_selector("#slot-rows tr[data-day='fri']")
    ics = tmp_path / "timetable.ics"
    ics.write_text("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nSUMMARY:Chem lab\nDTSTART:20270105T130000Z\n"
                   "DTEND:20270105T150000Z\nRRULE:FREQ=WEEKLY;BYDAY=TU\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:Trip\n"
                   "DTSTART:20270106T080000Z\nDTEND:20270106T090000Z\nEND:VEVENT\nEND:VCALENDAR\n")
    page.set_input_files("#ics-file", str(ics))
    page.click("#ics-form button[type=submit]")
    local = datetime(2027, 1, 5, 13, 0, tzinfo=UTC).astimezone(ZoneInfo(service.settings.school_timezone))
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][local.weekday()]
    page.wait_for_selector(f"#slot-rows tr[data-day='{day}']:has-text('{local:%H:%M}')")
    page.wait_for_selector('.notice.error:has-text("Trip")')
    for path, ready in (("/courses", "tr[data-course-id='chem']"), ("/courses/chem", "#slot-rows tr[data-day='fri']"),
                        (f"/sessions/{session.session_id}", "#attendance-rows tr[data-student-id='s1']"),
                        ("/reports?student=s1", "#report-session-rows tr")):
        page.goto(path)
        page.wait_for_selector(ready)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(17, 19, 26)", f"{path} is not dark: {background}"
        # every form control has a label
        unlabelled = page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), select')].filter(e =>
            !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name)""")
        assert unlabelled == [], f"{path}: controls without a label: {unlabelled}"
        if path.startswith("/sessions/"):  # the emotion distribution of the session
            assert page.inner_text("#emotion-bars li[data-emotion='HAPPY']").split() == ["Happy", "1"]
            assert page.locator("#emotions-empty").is_hidden()
    page.screenshot(path=str(SCREENSHOT_DIR / "rollcall-teacher-phone-dark.png"), full_page=True)
    assert errors == []
