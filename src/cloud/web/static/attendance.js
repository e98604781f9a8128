/* Renders attendance records into a table body, highlighting students who just appeared. */
"use strict";

const AttendanceTable = (() => {
  const { el, avatar, fmtTime, fmtSimilarity } = Rollcall;

  /** Replace the rows of tbody with records; rows for new student ids flash once. */
  function render(tbody, records, emptyNote) {
    const known = new Set([...tbody.querySelectorAll("tr[data-student-id]")].map((tr) => tr.dataset.studentId));
    const firstRender = tbody.dataset.rendered !== "1";
    const sorted = [...records].sort((a, b) => (a.first_seen_ms || 0) - (b.first_seen_ms || 0));
    const rows = sorted.map((rec) => {
      const name = rec.name || rec.student_id;
      const tr = el(
        "tr",
        { dataset: { studentId: rec.student_id }, class: !firstRender && !known.has(rec.student_id) ? "is-new" : null },
        el("td", {}, el("div", { class: "person" }, avatar(name, rec.evidence_ref),
          el("div", {}, el("div", { class: "person-name" }, name), el("div", { class: "person-id" }, rec.student_id)))),
        el("td", {}, fmtTime(rec.first_seen_ms)),
        el("td", {}, fmtTime(rec.last_seen_ms)),
        el("td", { class: "mono" }, rec.camera_id || "–"),
        el("td", { class: rec.best_similarity == null ? "num muted" : "num", title: rec.best_similarity == null ? "Assigned by hand from an unknown face" : null }, fmtSimilarity(rec.best_similarity)),
        el("td", { class: "num" }, String(rec.sightings ?? 0))
      );
      return tr;
    });
    tbody.replaceChildren(...rows);
    tbody.dataset.rendered = "1";
    if (emptyNote) emptyNote.hidden = records.length > 0;
  }

  return { render };
})();
