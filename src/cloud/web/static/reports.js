/* Attendance report of one student over a date range (GET /api/reports/students/<id>). */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError, withBusy, fmtDateTime } = Rollcall;
  const { stateBadge, fmtRate, isoDate } = Teacher;
  const form = document.getElementById("report-form");
  const select = document.getElementById("report-student");

  function render(report) {
    const c = report.counts;
    const n = (key) => c[key] || 0;
    document.getElementById("report-rate").textContent = fmtRate(report.rate);
    document.getElementById("report-present").textContent = String(n("present_camera") + n("present_manual") + n("late"));
    document.getElementById("report-excused").textContent = String(n("excused"));
    document.getElementById("report-absent").textContent = String(n("absent"));
    document.getElementById("report-course-rows").replaceChildren(...report.courses.map((course) => {
      const k = (key) => course.counts[key] || 0;
      return el("tr", { dataset: { courseId: course.course_id } },
        el("td", {}, el("a", { href: `/courses/${encodeURIComponent(course.course_id)}` }, course.name)),
        el("td", { class: "num" }, String(k("present_camera") + k("present_manual"))), el("td", { class: "num" }, String(k("late"))),
        el("td", { class: "num" }, String(k("excused"))), el("td", { class: "num" }, String(k("absent"))),
        el("td", { class: "num" }, fmtRate(course.rate)));
    }));
    document.getElementById("report-courses-empty").hidden = report.courses.length > 0;
    document.getElementById("report-session-rows").replaceChildren(...report.sessions.map((s) => el("tr", { dataset: { sessionId: s.session_id, state: s.state } },
      el("td", { class: "nowrap" }, fmtDateTime(s.starts_ms)), el("td", { class: "mono" }, s.course_id),
      el("td", {}, el("a", { href: `/sessions/${encodeURIComponent(s.session_id)}` }, s.name)),
      el("td", {}, stateBadge(s.state)), el("td", { class: s.reason ? "" : "muted" }, s.reason || "–"))));
    document.getElementById("report-sessions-empty").hidden = report.sessions.length > 0;
    document.getElementById("report").hidden = false;
  }

  async function show() {
    if (!select.value) return;
    const params = new URLSearchParams();
    if (form.from.value) params.set("from", form.from.value);
    if (form.to.value) params.set("to", form.to.value);
    render(await api(`/api/reports/students/${encodeURIComponent(select.value)}?${params}`));
    const url = new URL(location.href);
    url.searchParams.set("student", select.value);
    history.replaceState(null, "", url);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    withBusy(form.querySelector("button[type=submit]"), show, "Could not load the report");
  });

  const today = new Date();
  form.to.value = isoDate(today);
  form.from.value = isoDate(new Date(today.getTime() - 120 * 86400000));
  (async () => {
    try {
      const { students } = await api("/api/students");
      select.replaceChildren(el("option", { value: "" }, students.length ? "Choose a student…" : "No students yet"),
        ...students.map((s) => el("option", { value: s.student_id }, `${s.name} (${s.student_id})`)));
      const wanted = new URLSearchParams(location.search).get("student");
      if (wanted && students.some((s) => s.student_id === wanted)) {
        select.value = wanted;
        await show();
      }
    } catch (err) {
      showError(err, "Could not load students");
    }
  })();
});
