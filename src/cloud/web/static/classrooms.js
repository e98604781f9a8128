/* Classrooms page: add classrooms, open and close their sessions. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, fmtDateTime, statusBadge } = Rollcall;
  const form = document.getElementById("classroom-form");
  const tbody = document.getElementById("classroom-rows");
  const emptyNote = document.getElementById("classrooms-empty");

  function row(room, session) {
    const actions = el("div", { class: "actions" }, el("a", { class: "button small", href: `/?classroom=${encodeURIComponent(room.classroom_id)}` }, "Live view"));
    if (session) {
      const close = el("button", { type: "button", class: "button small danger" }, "Close session");
      close.addEventListener("click", () => {
        if (!confirm(`Close "${session.name}" in ${room.name}?`)) return;
        withBusy(close, async () => {
          await api(`/api/sessions/${encodeURIComponent(session.session_id)}/close`, { method: "POST" });
          notify(`Session in ${room.name} closed.`, "success");
          await load();
        }, "Could not close the session");
      });
      actions.append(close);
    } else {
      const open = el("button", { type: "button", class: "button small primary" }, "Open session");
      open.addEventListener("click", () => {
        withBusy(open, async () => {
          await api("/api/sessions", { method: "POST", json: { classroom_id: room.classroom_id } });
          notify(`Session opened in ${room.name}.`, "success");
          await load();
        }, "Could not open a session");
      });
      actions.append(open);
    }
    const current = session
      ? el("div", { class: "actions" }, statusBadge(session.status), el("span", {}, session.name), el("span", { class: "muted" }, `since ${fmtDateTime(session.starts_ms)}`))
      : el("span", { class: "muted" }, "None");
    return el(
      "tr",
      { dataset: { classroomId: room.classroom_id } },
      el("td", {}, el("div", { class: "person-name" }, room.name), el("div", { class: "person-id" }, room.classroom_id, room.auto_created ? " · added by a camera" : "")),
      el("td", {}, current),
      el("td", { class: "actions-cell" }, actions)
    );
  }

  async function load() {
    try {
      const [{ classrooms }, { sessions }] = await Promise.all([api("/api/classrooms"), api("/api/sessions?status=open")]);
      const openByRoom = new Map(sessions.map((s) => [s.classroom_id, s]));
      classrooms.sort((a, b) => a.name.localeCompare(b.name));
      tbody.replaceChildren(...classrooms.map((room) => row(room, openByRoom.get(room.classroom_id))));
      emptyNote.hidden = classrooms.length > 0;
    } catch (err) {
      showError(err, "Could not load classrooms");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const idInput = document.getElementById("classroom-id");
    const nameInput = document.getElementById("classroom-name");
    const body = { classroom_id: idInput.value.trim(), name: nameInput.value.trim() };
    for (const input of [idInput, nameInput]) input.setAttribute("aria-invalid", String(!input.value.trim()));
    if (!body.classroom_id || !body.name) {
      notify("Classroom ID and name are required.", "error");
      return;
    }
    withBusy(form.querySelector("button[type=submit]"), async () => {
      await api("/api/classrooms", { method: "POST", json: body });
      notify(`${body.name} added.`, "success");
      form.reset();
      for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
      await load();
    }, "Could not add the classroom");
  });

  load();
});
