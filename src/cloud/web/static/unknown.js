/* Unknown faces: assign each to a student (optionally enrolling the photo) or dismiss it. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, fmtDateTime, evidenceUrl, refreshUnknownCount } = Rollcall;
  const grid = document.getElementById("face-grid");
  const emptyNote = document.getElementById("faces-empty");
  const tabs = [...document.querySelectorAll(".segmented button")];
  let status = "pending";
  let students = [];

  function studentSelect(face) {
    const select = el("select", { "aria-label": "Student shown in this photo" }, el("option", { value: "" }, "Who is this?"));
    for (const s of students) select.append(el("option", { value: s.student_id }, `${s.name} (${s.student_id})`));
    return select;
  }

  function card(face) {
    const names = new Map(students.map((s) => [s.student_id, s.name]));
    const where = [face.classroom_id, face.camera_id].filter(Boolean).join(" · camera ");
    const body = el("div", { class: "body" },
      el("div", { class: "meta" }, el("div", {}, fmtDateTime(face.seen_ms)), el("div", {}, where)));
    if (face.status === "pending") {
      const select = studentSelect(face);
      const enrol = el("input", { type: "checkbox" });
      const assign = el("button", { type: "button", class: "button small primary" }, "Assign");
      const dismiss = el("button", { type: "button", class: "button small" }, "Dismiss");
      assign.addEventListener("click", () => {
        if (!select.value) {
          notify("Choose the student in this photo first.", "error");
          select.focus();
          return;
        }
        withBusy(assign, async () => {
          await api(`/api/unknown-faces/${encodeURIComponent(face.unknown_id)}/assign`, { method: "POST", json: { student_id: select.value, enrol: enrol.checked } });
          notify(`Assigned to ${names.get(select.value) || select.value}${enrol.checked ? " and enrolled" : ""}.`, "success");
          await load();
        }, "Could not assign the face");
      });
      dismiss.addEventListener("click", () => {
        withBusy(dismiss, async () => {
          await api(`/api/unknown-faces/${encodeURIComponent(face.unknown_id)}/dismiss`, { method: "POST" });
          notify("Dismissed.", "success");
          await load();
        }, "Could not dismiss the face");
      });
      body.append(
        el("div", { class: "row" }, select),
        el("label", { class: "check" }, enrol, "Also enrol this photo"),
        el("div", { class: "row" }, assign, dismiss)
      );
    } else if (face.status === "assigned") {
      body.append(el("div", {}, "Assigned to ", el("strong", {}, names.get(face.student_id) || face.student_id)));
    } else {
      body.append(el("div", { class: "muted" }, "Dismissed"));
    }
    return el("li", { class: "face-card", dataset: { unknownId: face.unknown_id } },
      el("img", { src: evidenceUrl(face.evidence_ref), alt: `Unrecognised face seen ${fmtDateTime(face.seen_ms)}`, loading: "lazy" }), body);
  }

  async function load() {
    try {
      const [{ unknown_faces: faces }, studentData] = await Promise.all([
        api(`/api/unknown-faces?status=${status}`),
        api("/api/students"),
      ]);
      students = studentData.students.sort((a, b) => a.name.localeCompare(b.name));
      faces.sort((a, b) => b.seen_ms - a.seen_ms);
      grid.replaceChildren(...faces.map(card));
      emptyNote.hidden = faces.length > 0;
      refreshUnknownCount();
    } catch (err) {
      showError(err, "Could not load unknown faces");
    }
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      status = tab.dataset.status;
      for (const t of tabs) t.setAttribute("aria-pressed", String(t === tab));
      load();
    });
  }
  load();
  setInterval(() => { if (status === "pending" && !document.hidden && ![...grid.querySelectorAll("select")].some((s) => s.value) && !grid.querySelector(":focus")) load(); }, 10000);
});
