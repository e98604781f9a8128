/* One course: details, weekly timetable, roster, its sessions and the term export. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, fmtDateTime, statusBadge, fillClassroomSelect } = Rollcall;
  const { DAYS, isoDate } = Teacher;
  const courseId = document.getElementById("course-page").dataset.courseId;
  const base = `/api/courses/${encodeURIComponent(courseId)}`;
  let course = null;

  async function loadCourse() {
    const [detail, { classrooms }] = await Promise.all([api(base), api("/api/classrooms")]);
    course = detail;
    document.title = `${course.name} · Rollcall`;
    document.getElementById("course-title").textContent = course.name;
    document.getElementById("course-meta").textContent =
      `${course.course_id} · ${course.classroom_id ? `meets in ${course.classroom_id}` : "no classroom yet: choose one below"}`;
    const form = document.getElementById("course-edit");
    form.name.value = course.name;
    fillClassroomSelect(form.classroom_id, classrooms, { placeholder: "None yet", selected: course.classroom_id || "" });
    document.getElementById("open-course-session").disabled = !course.classroom_id;
    renderSlots(course.slots);
  }

  function renderSlots(slots) {
    document.getElementById("slot-rows").replaceChildren(...slots.map((s) => el("tr", { dataset: { slotId: s.slot_id, day: s.day } },
      el("td", {}, DAYS[s.day]), el("td", {}, s.start), el("td", {}, s.end),
      el("td", { class: "actions-cell" }, el("div", { class: "actions" },
        el("button", { type: "button", class: "button small danger", "aria-label": `Delete the ${DAYS[s.day]} ${s.start} slot`,
          onclick: (event) => deleteSlot(event.currentTarget, s) }, "Delete"))))));
    document.getElementById("slots-empty").hidden = slots.length > 0;
  }

  function deleteSlot(button, slot) {
    if (!confirm(`Delete the ${DAYS[slot.day]} ${slot.start}–${slot.end} slot? Its sessions that have not started are cancelled.`)) return;
    withBusy(button, async () => {
      await api(`${base}/slots/${encodeURIComponent(slot.slot_id)}`, { method: "DELETE" });
      notify("Slot deleted.", "success");
      await Promise.all([loadCourse(), loadSessions()]);
    }, "Could not delete the slot");
  }

  async function loadRoster() {
    const [{ students }, all] = await Promise.all([api(`${base}/roster`), api("/api/students")]);
    const onRoster = new Set(students.map((s) => s.student_id));
    document.getElementById("roster-count").textContent = `(${students.length})`;
    document.getElementById("roster-rows").replaceChildren(...students.map((s) => el("tr", { dataset: { studentId: s.student_id } },
      el("td", {}, el("div", { class: "person-name" }, s.name), el("div", { class: "person-id" }, s.student_id)),
      el("td", { class: s.email ? "" : "muted" }, s.email || "–"),
      el("td", { class: "actions-cell" }, el("div", { class: "actions" },
        el("a", { class: "button small", href: `/reports?student=${encodeURIComponent(s.student_id)}` }, "Report"),
        el("button", { type: "button", class: "button small danger", "aria-label": `Remove ${s.name} from the roster`,
          onclick: (event) => removeStudent(event.currentTarget, s) }, "Remove"))))));
    document.getElementById("roster-empty").hidden = students.length > 0;
    const select = document.getElementById("roster-student");
    const others = all.students.filter((s) => !onRoster.has(s.student_id));
    select.replaceChildren(el("option", { value: "" }, others.length ? "Choose a student…" : "Every student is on the roster"),
      ...others.map((s) => el("option", { value: s.student_id }, `${s.name} (${s.student_id})`)));
  }

  function removeStudent(button, student) {
    if (!confirm(`Remove ${student.name} from this course? Their attendance stays.`)) return;
    withBusy(button, async () => {
      await api(`${base}/roster/${encodeURIComponent(student.student_id)}`, { method: "DELETE" });
      await loadRoster();
    }, "Could not remove the student");
  }

  async function loadSessions() {
    const { sessions } = await api(`${base}/sessions`);
    document.getElementById("course-session-rows").replaceChildren(...sessions.map((s) => el("tr", { dataset: { sessionId: s.session_id, status: s.status } },
      el("td", {}, s.name), el("td", {}, statusBadge(s.status)),
      el("td", { class: "nowrap" }, fmtDateTime(s.starts_ms)),
      el("td", { class: "nowrap" }, s.ends_ms ? fmtDateTime(s.ends_ms) : "open-ended"),
      el("td", { class: "actions-cell" }, el("div", { class: "actions" },
        el("a", { class: "button small", href: `/sessions/${encodeURIComponent(s.session_id)}` }, "View"))))));
    document.getElementById("course-sessions-empty").hidden = sessions.length > 0;
  }

  function updateExportLinks() {
    const params = new URLSearchParams();
    const from = document.getElementById("export-from").value;
    const to = document.getElementById("export-to").value;
    if (from) params.set("from", from);
    if (to) params.set("to", to);
    const query = params.toString() ? `?${params}` : "";
    document.getElementById("export-csv").href = `${base}/export.csv${query}`;
    document.getElementById("export-xlsx").href = `${base}/export.xlsx${query}`;
  }

  document.getElementById("course-edit").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    withBusy(form.querySelector("button[type=submit]"), async () => {
      await api(base, { method: "PATCH", json: { name: form.name.value.trim(), classroom_id: form.classroom_id.value } });
      notify("Course saved.", "success");
      await loadCourse();
    }, "Could not save the course");
  });

  document.getElementById("slot-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const body = { day: form.day.value, start: form.start.value, end: form.end.value };
    withBusy(form.querySelector("button[type=submit]"), async () => {
      await api(`${base}/slots`, { method: "POST", json: body });
      notify(`Weekly slot added: ${DAYS[body.day]} ${body.start}–${body.end}.`, "success");
      await loadCourse();
      setTimeout(loadSessions, 1500); // the scheduler creates the sessions shortly
    }, "Could not add the slot");
  });

  document.getElementById("ics-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const file = form.file.files[0];
    if (!file) {
      notify("Choose an .ics calendar file first.", "error");
      return;
    }
    withBusy(form.querySelector("button[type=submit]"), async () => {
      const report = await api(`${base}/slots/import`, { method: "POST", body: file, headers: { "Content-Type": "text/calendar" } });
      notify(`${report.added.length} weekly slots added from ${report.events} events.`, "success");
      for (const problem of report.errors) notify(problem.error, "error", `Event "${problem.event || "untitled"}" skipped`);
      form.reset();
      await loadCourse();
    }, "Could not import the calendar");
  });

  document.getElementById("roster-add").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    if (!form.student_id.value) return;
    withBusy(form.querySelector("button[type=submit]"), async () => {
      await api(`${base}/roster`, { method: "POST", json: { student_id: form.student_id.value } });
      await loadRoster();
    }, "Could not add the student");
  });

  document.getElementById("open-course-session").addEventListener("click", (event) => {
    withBusy(event.currentTarget, async () => {
      const session = await api(`${base}/sessions`, { method: "POST" });
      notify("Session opened.", "success");
      location.href = `/sessions/${encodeURIComponent(session.session_id)}`;
    }, "Could not open a session");
  });

  for (const id of ["export-from", "export-to"]) document.getElementById(id).addEventListener("change", updateExportLinks);
  const today = new Date();
  document.getElementById("export-to").value = isoDate(today);
  document.getElementById("export-from").value = isoDate(new Date(today.getTime() - 120 * 86400000));
  updateExportLinks();

  Promise.all([loadCourse(), loadRoster(), loadSessions()]).catch((err) => showError(err, "Could not load the course"));
  setInterval(() => loadSessions().catch(() => {}), 10000);
});
