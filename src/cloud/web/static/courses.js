/* Courses page: the list, a new course, and the roster CSV import (preview, then apply). */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, fillClassroomSelect } = Rollcall;
  const { DAYS } = Teacher;
  const rows = document.getElementById("course-rows");
  const fileInput = document.getElementById("roster-file");
  const preview = document.getElementById("import-preview");
  const ACTION_TEXT = {
    create_student: "new student",
    update_student: "name/email updated",
    create_course: "new course",
    enrol: "added to the course",
  };
  let pendingFile = null;

  async function loadClassrooms() {
    const { classrooms } = await api("/api/classrooms");
    fillClassroomSelect(document.getElementById("course-classroom"), classrooms, { placeholder: "None yet" });
  }

  async function loadCourses() {
    const { courses } = await api("/api/courses");
    rows.replaceChildren(...courses.map((c) => {
      const href = `/courses/${encodeURIComponent(c.course_id)}`;
      const slots = c.slots.map((s) => `${DAYS[s.day].slice(0, 3)} ${s.start}–${s.end}`).join(", ");
      return el("tr", { dataset: { courseId: c.course_id } },
        el("td", {}, el("div", { class: "person-name" }, c.name), el("div", { class: "person-id" }, c.course_id)),
        el("td", { class: c.classroom_id ? "mono" : "muted" }, c.classroom_id || "not set"),
        el("td", { class: "num" }, String(c.roster_size)),
        el("td", { class: slots ? "" : "muted" }, slots || "none"),
        el("td", { class: "actions-cell" }, el("div", { class: "actions" }, el("a", { class: "button small", href }, "Open"))));
    }));
    document.getElementById("courses-empty").hidden = courses.length > 0;
  }

  function showPreview(report) {
    const s = report.summary;
    const items = [
      `${s.rows} rows`,
      `${s.students_created} new students`,
      `${s.students_updated} updated`,
      `${s.enrolments} added to courses`,
      s.courses_created.length ? `new courses: ${s.courses_created.join(", ")}` : null,
      `${s.unchanged} unchanged`,
      `${s.errors} with errors`,
    ].filter(Boolean);
    document.getElementById("import-summary").replaceChildren(...items.map((t) => el("li", {}, t)));
    document.getElementById("import-rows").replaceChildren(...report.rows.map((r) => el("tr",
      { class: r.error ? "row-error" : null, dataset: { line: String(r.line) } },
      el("td", { class: "num" }, String(r.line)),
      el("td", {}, el("div", { class: "person-name" }, r.name || "–"), el("div", { class: "person-id" }, r.student_id || "–")),
      el("td", { class: "mono" }, r.course || "–"),
      el("td", {}, r.error ? el("span", { class: "error-text" }, r.error)
        : (r.actions.map((a) => ACTION_TEXT[a] || a).join(", ") || "no change")))));
    const applicable = report.rows.some((r) => !r.error && r.actions.length);
    const applyBtn = document.getElementById("import-apply");
    applyBtn.hidden = report.applied || !applicable;
    applyBtn.textContent = s.errors ? "Apply the rows without errors" : "Apply changes";
    document.getElementById("import-cancel").textContent = report.applied ? "Close" : "Cancel";
    preview.hidden = false;
  }

  async function runImport(apply) {
    return api(`/api/courses/import${apply ? "?apply=1" : ""}`, {
      method: "POST", body: pendingFile, headers: { "Content-Type": "text/csv" },
    });
  }

  document.getElementById("import-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pendingFile = fileInput.files[0] || null;
    if (!pendingFile) {
      fileInput.setAttribute("aria-invalid", "true");
      notify("Choose a CSV file first.", "error");
      return;
    }
    fileInput.removeAttribute("aria-invalid");
    withBusy(document.getElementById("import-preview-button"), async () => showPreview(await runImport(false)),
      "Could not read the roster");
  });

  document.getElementById("import-apply").addEventListener("click", (event) => {
    withBusy(event.currentTarget, async () => {
      const report = await runImport(true);
      showPreview(report);
      notify(`Roster imported: ${report.summary.students_created} new students, ${report.summary.enrolments} added to courses.`, "success");
      await loadCourses();
    }, "Could not import the roster");
  });

  document.getElementById("import-cancel").addEventListener("click", () => {
    preview.hidden = true;
    pendingFile = null;
    fileInput.value = "";
  });

  document.getElementById("course-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const body = { course_id: form.course_id.value.trim() };
    if (form.name.value.trim()) body.name = form.name.value.trim();
    if (form.classroom_id.value) body.classroom_id = form.classroom_id.value;
    withBusy(form.querySelector("button[type=submit]"), async () => {
      await api("/api/courses", { method: "POST", json: body });
      notify(`Course ${body.course_id} added.`, "success");
      form.reset();
      await loadCourses();
    }, "Could not add the course");
  });

  Promise.all([loadClassrooms(), loadCourses()]).catch((err) => showError(err, "Could not load courses"));
});
