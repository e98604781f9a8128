/* Live page: the open session of the chosen classroom, polled every few seconds. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, fmtDateTime, fmtDuration, fmtTime, statusBadge, fillClassroomSelect, poll, avatar } = Rollcall;
  const POLL_MS = Number(document.body.dataset.pollMs) || 2000;
  const STORAGE_KEY = "rollcall.live.classroom";

  const select = document.getElementById("classroom-select");
  const card = document.getElementById("session-card");
  const statusEl = document.getElementById("session-status");
  const titleEl = document.getElementById("session-title");
  const timesEl = document.getElementById("session-times");
  const csvLink = document.getElementById("csv-link");
  const closeBtn = document.getElementById("close-session");
  const openForm = document.getElementById("open-session-form");
  const stats = document.getElementById("stats");
  const area = document.getElementById("attendance-area");
  const rows = document.getElementById("attendance-rows");
  const emptyNote = document.getElementById("attendance-empty");
  const missingList = document.getElementById("missing-list");
  const missingEmpty = document.getElementById("missing-empty");

  let session = null;
  let students = [];
  let lastError = null;

  async function loadClassrooms() {
    const { classrooms } = await api("/api/classrooms");
    document.getElementById("no-classrooms").hidden = classrooms.length > 0;
    const wanted = new URLSearchParams(location.search).get("classroom") || localStorage.getItem(STORAGE_KEY) || "";
    fillClassroomSelect(select, classrooms, { selected: wanted });
    if (!select.value && classrooms.length) select.value = classrooms[0].classroom_id;
    if (!classrooms.length) select.replaceChildren(el("option", { value: "" }, "No classrooms"));
    select.disabled = !classrooms.length;
  }

  async function loadStudents() {
    try {
      students = (await api("/api/students")).students;
    } catch (err) {
      students = [];
    }
  }

  function renderSession() {
    const open = session && session.status === "open";
    card.hidden = !select.value;
    card.classList.toggle("is-open", !!open);
    openForm.hidden = !!open;
    closeBtn.hidden = !open;
    csvLink.hidden = !session;
    stats.hidden = !session;
    area.hidden = !session;
    statusEl.replaceChildren();
    if (!session) {
      titleEl.textContent = "No open session";
      timesEl.textContent = "Open a session to start taking attendance in this classroom.";
      return;
    }
    statusEl.append(statusBadge(session.status));
    titleEl.textContent = session.name || "Session";
    const end = session.ends_ms ? ` · ends ${fmtDateTime(session.ends_ms)}` : "";
    timesEl.textContent = `Started ${fmtDateTime(session.starts_ms)} · running ${fmtDuration(Date.now() - session.starts_ms)}${end}`;
    csvLink.href = `/api/sessions/${encodeURIComponent(session.session_id)}/attendance.csv`;
  }

  /** "Not seen yet": the course's roster minus those present (any student for a session without a course). */
  function renderMissing(records, data) {
    const present = new Set(records.map((r) => r.student_id));
    let missing = students.filter((s) => !present.has(s.student_id));
    if (data && data.session.course_id) {
      missing = data.students.filter((s) => s.state === "absent" && s.source === "none")
        .map((s) => ({ student_id: s.student_id, name: s.name || s.student_id }));
      const visitors = new Set(data.visitors.map((v) => v.student_id));
      for (const tr of rows.querySelectorAll("tr[data-student-id]")) {
        if (visitors.has(tr.dataset.studentId) && !tr.querySelector(".badge.state-visitor")) {
          tr.querySelector(".person-name").append(" ", el("span", { class: "badge state-visitor" }, "Visitor"));
        }
      }
    }
    missingList.replaceChildren(
      ...missing.map((s) => el("li", {}, avatar(s.name), el("div", {}, el("div", { class: "person-name" }, s.name), el("div", { class: "person-id" }, s.student_id))))
    );
    missingEmpty.hidden = missing.length > 0 || students.length === 0;
    const presentCount = data && data.session.course_id ? data.counts.present : records.length;
    document.getElementById("stat-present").textContent = String(presentCount);
    document.getElementById("stat-missing").textContent = String(missing.length);
    document.getElementById("stat-sightings").textContent = String(records.reduce((n, r) => n + (r.sightings || 0), 0));
    document.getElementById("stat-updated").textContent = fmtTime(Date.now());
  }

  /** One poll: the classroom's open session and its attendance. */
  async function refresh() {
    const classroomId = select.value;
    if (!classroomId) {
      session = null;
      renderSession();
      return;
    }
    try {
      const { sessions } = await api(`/api/sessions?classroom_id=${encodeURIComponent(classroomId)}&status=open`);
      if (classroomId !== select.value) return; // the choice changed meanwhile
      session = sessions.length ? sessions[0] : null;
      if (session) {
        const data = await api(`/api/sessions/${encodeURIComponent(session.session_id)}/attendance`);
        if (classroomId !== select.value) return;
        session = data.session;
        renderSession();
        AttendanceTable.render(rows, data.records, emptyNote);
        renderMissing(data.records, data);
      } else {
        renderSession();
        rows.replaceChildren();
        delete rows.dataset.rendered;
      }
      Rollcall.refreshUnknownCount();
      if (lastError) notify("Connection restored.", "success");
      lastError = null;
    } catch (err) {
      if (!lastError || lastError.message !== err.message) showError(err, "Live update failed");
      lastError = err;
    }
  }

  select.addEventListener("change", () => {
    localStorage.setItem(STORAGE_KEY, select.value);
    const url = new URL(location.href);
    url.searchParams.set("classroom", select.value);
    history.replaceState(null, "", url);
    rows.replaceChildren();
    delete rows.dataset.rendered;
    refresh();
  });

  openForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = document.getElementById("open-session");
    const name = document.getElementById("session-name").value.trim();
    withBusy(button, async () => {
      const body = { classroom_id: select.value };
      if (name) body.name = name;
      await api("/api/sessions", { method: "POST", json: body });
      document.getElementById("session-name").value = "";
      notify("Session opened. Attendance is being recorded.", "success");
      await refresh();
    }, "Could not open the session");
  });

  closeBtn.addEventListener("click", () => {
    if (!session || !confirm(`Close "${session.name || "this session"}"? Cameras will stop recording attendance for it.`)) return;
    withBusy(closeBtn, async () => {
      await api(`/api/sessions/${encodeURIComponent(session.session_id)}/close`, { method: "POST" });
      notify("Session closed. Its attendance stays in Sessions.", "success");
      await refresh();
    }, "Could not close the session");
  });

  (async () => {
    try {
      await Promise.all([loadClassrooms(), loadStudents()]);
    } catch (err) {
      showError(err, "Could not load classrooms");
    }
    poll(refresh, POLL_MS);
    setInterval(loadStudents, 30000);
  })();
});
