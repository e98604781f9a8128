/* Sessions page: history with filters, CSV downloads, opening or scheduling sessions. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, fmtDateTime, statusBadge, fillClassroomSelect } = Rollcall;
  const tbody = document.getElementById("session-rows");
  const emptyNote = document.getElementById("sessions-empty");
  const filterRoom = document.getElementById("filter-classroom");
  const filterStatus = document.getElementById("filter-status");
  const form = document.getElementById("schedule-form");
  const formRoom = document.getElementById("schedule-classroom");
  let roomNames = new Map();

  function row(session) {
    const id = encodeURIComponent(session.session_id);
    const actions = el("div", { class: "actions" },
      el("a", { class: "button small", href: `/sessions/${id}` }, "View"),
      el("a", { class: "button small", href: `/api/sessions/${id}/attendance.csv`, download: "" }, "CSV"));
    if (session.status !== "closed") {
      const close = el("button", { type: "button", class: "button small danger" }, session.status === "scheduled" ? "Cancel" : "Close");
      close.addEventListener("click", () => {
        if (!confirm(`${close.textContent} "${session.name}"?`)) return;
        withBusy(close, async () => {
          await api(`/api/sessions/${id}/close`, { method: "POST" });
          notify("Session closed.", "success");
          await load();
        }, "Could not close the session");
      });
      actions.append(close);
    }
    const ends = session.status === "closed" ? session.closed_ms || session.ends_ms : session.ends_ms;
    return el(
      "tr",
      { dataset: { sessionId: session.session_id } },
      el("td", {}, el("a", { class: "person-name", href: `/sessions/${id}` }, session.name || "Session"), el("div", { class: "person-id" }, session.session_id)),
      el("td", {}, roomNames.get(session.classroom_id) || session.classroom_id),
      el("td", {}, statusBadge(session.status)),
      el("td", { class: "nowrap" }, fmtDateTime(session.starts_ms)),
      el("td", { class: "nowrap" }, ends ? fmtDateTime(ends) : el("span", { class: "muted" }, "open-ended")),
      el("td", { class: "actions-cell" }, actions)
    );
  }

  async function load() {
    const params = new URLSearchParams();
    if (filterRoom.value) params.set("classroom_id", filterRoom.value);
    if (filterStatus.value) params.set("status", filterStatus.value);
    try {
      const { sessions } = await api(`/api/sessions?${params}`);
      sessions.sort((a, b) => b.starts_ms - a.starts_ms);
      tbody.replaceChildren(...sessions.map(row));
      emptyNote.hidden = sessions.length > 0;
    } catch (err) {
      showError(err, "Could not load sessions");
    }
  }

  async function loadClassrooms() {
    try {
      const { classrooms } = await api("/api/classrooms");
      roomNames = new Map(classrooms.map((c) => [c.classroom_id, c.name]));
      fillClassroomSelect(filterRoom, classrooms, { placeholder: "All classrooms" });
      fillClassroomSelect(formRoom, classrooms);
    } catch (err) {
      showError(err, "Could not load classrooms");
    }
  }

  /** A datetime-local value as an ISO 8601 instant in UTC (the browser's time zone applies). */
  const toIso = (value) => (value ? new Date(value).toISOString() : undefined);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!formRoom.value) {
      notify("Choose a classroom (add one on the Classrooms page first).", "error");
      return;
    }
    const body = { classroom_id: formRoom.value };
    const name = document.getElementById("schedule-name").value.trim();
    const starts = toIso(document.getElementById("schedule-start").value);
    const ends = toIso(document.getElementById("schedule-end").value);
    if (name) body.name = name;
    if (starts) body.starts_at = starts;
    if (ends) body.ends_at = ends;
    withBusy(form.querySelector("button[type=submit]"), async () => {
      const session = await api("/api/sessions", { method: "POST", json: body });
      notify(session.status === "scheduled" ? "Session scheduled." : "Session opened.", "success");
      form.reset();
      fillClassroomSelect(formRoom, [...roomNames].map(([classroom_id, n]) => ({ classroom_id, name: n })), { selected: body.classroom_id });
      await load();
    }, "Could not create the session");
  });

  filterRoom.addEventListener("change", load);
  filterStatus.addEventListener("change", load);
  loadClassrooms().then(load);
});
