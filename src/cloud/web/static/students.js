/* Students page: add students, enrol photos, remove faces, delete students. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, avatar, evidenceUrl } = Rollcall;
  const form = document.getElementById("student-form");
  const tbody = document.getElementById("student-rows");
  const emptyNote = document.getElementById("students-empty");
  const filter = document.getElementById("student-filter");
  const total = document.getElementById("student-total");
  let students = [];

  const photoPath = (id) => `/api/students/${encodeURIComponent(id)}/photos`;

  /** Upload one photo file for a student; returns true on success. */
  async function uploadPhoto(studentId, file) {
    const body = new FormData();
    body.append("photo", file, file.name);
    await api(photoPath(studentId), { method: "POST", body });
    return true;
  }

  function faceChip(student, face) {
    const remove = el("button", { type: "button", "aria-label": `Remove photo ${face.face_id} of ${student.name}`, title: "Remove this photo" }, "×");
    remove.addEventListener("click", () => {
      if (!confirm(`Remove this photo of ${student.name}? Their other photos stay enrolled.`)) return;
      withBusy(remove, async () => {
        await api(`${photoPath(student.student_id)}/${encodeURIComponent(face.face_id)}`, { method: "DELETE" });
        notify("Photo removed.", "success");
        await refreshFaces(student);
      }, "Could not remove the photo");
    });
    const thumb = face.photo_ref ? el("img", { src: evidenceUrl(face.photo_ref), alt: `Enrolled photo of ${student.name}`, loading: "lazy" }) : el("span", { class: "dot", "aria-hidden": "true" });
    return el("span", { class: "face-chip", title: face.face_id }, thumb, remove);
  }

  async function refreshFaces(student) {
    const cell = tbody.querySelector(`tr[data-student-id="${CSS.escape(student.student_id)}"] .faces`);
    if (!cell) return;
    try {
      const { faces } = await api(photoPath(student.student_id));
      const count = el("span", { class: faces.length ? "face-count" : "face-count none" }, faces.length ? `${faces.length} photo${faces.length > 1 ? "s" : ""}` : "No photo yet");
      cell.replaceChildren(...faces.map((f) => faceChip(student, f)), count);
      cell.closest("tr").dataset.faces = String(faces.length);
    } catch (err) {
      cell.replaceChildren(el("span", { class: "face-count none" }, "Photos unavailable"));
    }
  }

  function row(student) {
    const input = el("input", { type: "file", accept: "image/jpeg,image/png", "aria-label": `Add a photo of ${student.name}` });
    const label = el("label", { class: "button small file-button" }, "Add photo", input);
    input.addEventListener("change", () => {
      const file = input.files[0];
      if (!file) return;
      label.setAttribute("aria-disabled", "true");
      withBusy(input, async () => {
        await uploadPhoto(student.student_id, file);
        notify(`Photo enrolled for ${student.name}.`, "success");
        await refreshFaces(student);
      }, `Photo of ${student.name} not enrolled`).finally(() => {
        input.value = "";
        label.removeAttribute("aria-disabled");
      });
    });
    // erasing a student is admin-only (the API answers 403 to teachers): teachers do not get the button
    const isAdmin = document.body.dataset.role === "admin";
    const del = el("button", { type: "button", class: "button small danger", hidden: !isAdmin }, "Delete");
    del.addEventListener("click", () => {
      if (!confirm(`Delete ${student.name} (${student.student_id}) and all their enrolled photos? Attendance records stay.`)) return;
      withBusy(del, async () => {
        await api(`/api/students/${encodeURIComponent(student.student_id)}`, { method: "DELETE" });
        notify(`${student.name} deleted.`, "success");
        await load();
      }, "Could not delete the student");
    });
    return el(
      "tr",
      { dataset: { studentId: student.student_id, search: `${student.name} ${student.student_id}`.toLowerCase() } },
      el("td", {}, el("div", { class: "person" }, avatar(student.name), el("div", {}, el("div", { class: "person-name" }, student.name), el("div", { class: "person-id" }, student.student_id)))),
      el("td", {}, student.email ? el("a", { href: `mailto:${student.email}` }, student.email) : el("span", { class: "muted" }, "–")),
      el("td", {}, el("div", { class: "faces" }, el("span", { class: "face-count" }, "Loading…"))),
      el("td", { class: "actions-cell" }, el("div", { class: "actions" }, label, del))
    );
  }

  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    for (const tr of tbody.rows) tr.hidden = q !== "" && !tr.dataset.search.includes(q);
  }

  async function load() {
    try {
      students = (await api("/api/students")).students;
    } catch (err) {
      showError(err, "Could not load students");
      return;
    }
    students.sort((a, b) => a.name.localeCompare(b.name));
    tbody.replaceChildren(...students.map(row));
    emptyNote.hidden = students.length > 0;
    total.textContent = students.length ? `(${students.length})` : "";
    applyFilter();
    await Promise.all(students.map(refreshFaces));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const idInput = document.getElementById("student-id");
    const nameInput = document.getElementById("student-name");
    const body = { student_id: idInput.value.trim(), name: nameInput.value.trim() };
    const email = document.getElementById("student-email").value.trim();
    if (email) body.email = email;
    const file = document.getElementById("student-photo").files[0];
    for (const input of [idInput, nameInput]) input.setAttribute("aria-invalid", String(!input.value.trim()));
    if (!body.student_id || !body.name) {
      notify("Student ID and full name are required.", "error");
      return;
    }
    withBusy(button, async () => {
      await api("/api/students", { method: "POST", json: body });
      let message = `${body.name} added.`;
      if (file) {
        try {
          await uploadPhoto(body.student_id, file);
          message = `${body.name} added and photo enrolled.`;
        } catch (err) {
          showError(err, `${body.name} was added, but the photo was not enrolled`);
          message = null;
        }
      }
      if (message) notify(message, "success");
      form.reset();
      for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
      await load();
    }, "Could not add the student");
  });

  filter.addEventListener("input", applyFilter);
  load();
});
