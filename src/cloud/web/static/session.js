/* One session: every roster student with a state the teacher can change (with a reason),
   visitors, the teachers' changes and the emotion distribution. Polls while the session is open. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, fmtDateTime, fmtTime, fmtSimilarity, statusBadge, poll, avatar } = Rollcall;
  const { MARK_STATES, stateLabel, stateBadge } = Teacher;
  const sessionId = document.getElementById("session-page").dataset.sessionId;
  const base = `/api/sessions/${encodeURIComponent(sessionId)}`;
  const POLL_MS = Number(document.body.dataset.pollMs) || 2000;
  const rows = document.getElementById("attendance-rows");
  const closeBtn = document.getElementById("close-session");
  let poller = null;
  let failed = false;

  function person(line) {
    const name = line.name || line.student_id;
    return el("div", { class: "person" }, avatar(name, line.evidence_ref),
      el("div", {}, el("div", { class: "person-name" }, name), el("div", { class: "person-id" }, line.student_id)));
  }

  function markForm(line) {
    const id = `mark-${line.student_id}`;
    const select = el("select", { id: `${id}-state`, name: "state", "aria-label": `New state of ${line.name || line.student_id}` },
      ...MARK_STATES.map((s) => el("option", { value: s, selected: s === line.state }, stateLabel(s))));
    const reason = el("input", { id: `${id}-reason`, name: "reason", maxlength: "500", required: true, autocomplete: "off",
      placeholder: "Why?", "aria-label": `Reason for changing ${line.name || line.student_id}` });
    const form = el("form", { class: "mark-form", novalidate: true }, select, reason,
      el("button", { type: "submit", class: "button small" }, "Save"));
    select.addEventListener("change", () => { form.dataset.dirty = "1"; }); // a chosen state survives the live refresh
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!reason.value.trim()) {
        reason.setAttribute("aria-invalid", "true");
        notify("Say why the state changes: it is kept in the audit trail.", "error");
        return;
      }
      withBusy(form.querySelector("button"), async () => {
        await api(`${base}/marks`, { method: "POST", json: { student_id: line.student_id, state: select.value, reason: reason.value.trim() } });
        notify(`${line.name || line.student_id}: ${stateLabel(select.value)}.`, "success");
        await refresh(true);
      }, "Could not change the state");
    });
    return form;
  }

  function renderRoll(data, force) {
    // keep what the teacher is doing: no re-render while a change form has focus, text or a chosen state
    const typing = [...rows.querySelectorAll("input")].some((input) => input.value.trim());
    const chosen = rows.querySelector("form[data-dirty]") !== null;
    const editing = !force && (rows.contains(document.activeElement) || typing || chosen);
    if (!editing) {
      rows.replaceChildren(...data.students.map((line) => el("tr", { dataset: { studentId: line.student_id, state: line.state } },
        el("td", {}, person(line)),
        el("td", {}, stateBadge(line.state),
          line.source === "manual" ? el("div", { class: "marked-note" }, `by ${line.marked_by}: ${line.reason}`) : null,
          line.source === "manual" && line.camera_state !== "absent" ? el("div", { class: "marked-note" }, `camera: ${stateLabel(line.camera_state)}`) : null),
        el("td", { class: "nowrap" }, fmtTime(line.first_seen_ms)),
        el("td", { class: "mono" }, line.camera_id || "–"),
        el("td", { class: "num" }, line.first_seen_ms ? fmtSimilarity(line.best_similarity) : "–"),
        el("td", {}, markForm(line)))));
    }
    document.getElementById("attendance-empty").hidden = data.students.length > 0;
    document.getElementById("attendance-empty").textContent = data.session.course_id
      ? "Nobody is on this course's roster." : "Nobody was recognised in this session.";
    document.getElementById("roll-note").textContent = data.session.course_id
      ? `Every student on the roster of ${data.session.course_id}.` : "A session without a course: the students seen in it.";
    const visitors = document.getElementById("visitor-rows");
    visitors.replaceChildren(...data.visitors.map((line) => el("tr", { dataset: { studentId: line.student_id } },
      el("td", {}, person(line)), el("td", {}, fmtTime(line.first_seen_ms)), el("td", { class: "mono" }, line.camera_id || "–"),
      el("td", { class: "num" }, fmtSimilarity(line.best_similarity)))));
    document.getElementById("visitors-card").hidden = data.visitors.length === 0;
    const c = data.counts;
    document.getElementById("present-count").textContent = `(${c.present} of ${c.roster} present)`;
    for (const key of ["present", "late", "excused", "absent"]) document.getElementById(`stat-${key}`).textContent = String(c[key]);
    const emotions = Object.entries(data.emotions);
    const most = Math.max(1, ...emotions.map(([, n]) => n));
    document.getElementById("emotion-bars").replaceChildren(...emotions.map(([name, n]) => el("li", { dataset: { emotion: name } },
      el("span", {}, name.charAt(0) + name.slice(1).toLowerCase()),
      el("span", { class: "bar", role: "img", "aria-label": `${n} students`, dataset: { width: String(n / most) } }),
      el("span", { class: "num" }, String(n)))));
    for (const bar of document.querySelectorAll("#emotion-bars .bar")) bar.style.width = `${Number(bar.dataset.width) * 100}%`;
    const emptyEmotions = document.getElementById("emotions-empty");
    emptyEmotions.hidden = emotions.length > 0;
    emptyEmotions.textContent = data.emotions_enabled
      ? "No emotion recorded yet. Only AWS Rekognition returns emotions; the local Rekognition service returns none."
      : "Emotion detection is off (ROLLCALL_CLOUD_DETECT_EMOTIONS=false).";
  }

  async function loadMarks() {
    const { marks } = await api(`${base}/marks`);
    document.getElementById("mark-rows").replaceChildren(...[...marks].reverse().map((m) => el("tr", {},
      el("td", { class: "nowrap" }, fmtDateTime(m.marked_ms)), el("td", {}, m.actor), el("td", { class: "mono" }, m.student_id),
      el("td", {}, `${stateLabel(m.previous_state)} → ${stateLabel(m.state)}`), el("td", {}, m.reason))));
    document.getElementById("marks-empty").hidden = marks.length > 0;
  }

  async function refresh(force = false) {
    try {
      const data = await api(`${base}/attendance`);
      const session = data.session;
      document.title = `${session.name || "Session"} · Rollcall`;
      document.getElementById("session-title").textContent = session.name || "Session";
      const ends = session.status === "closed" ? session.closed_ms || session.ends_ms : session.ends_ms;
      document.getElementById("session-times").textContent =
        `${session.course_id ? `${session.course_id} · ` : ""}${session.classroom_id} · ${fmtDateTime(session.starts_ms)} – ${ends ? fmtDateTime(ends) : "open-ended"}`;
      document.getElementById("session-status").replaceWith(Object.assign(statusBadge(session.status), { id: "session-status" }));
      closeBtn.hidden = session.status === "closed";
      closeBtn.textContent = session.status === "scheduled" ? "Cancel session" : "Close session";
      renderRoll(data, force);
      await loadMarks();
      if (session.status === "closed" && poller) poller.stop();
      failed = false;
    } catch (err) {
      if (!failed) showError(err, "Could not load the session");
      failed = true;
      if (err.status === 404 && poller) poller.stop();
    }
  }

  closeBtn.addEventListener("click", () => {
    if (!confirm("Close this session? Cameras will stop recording attendance for it.")) return;
    withBusy(closeBtn, async () => {
      await api(`${base}/close`, { method: "POST" });
      notify("Session closed.", "success");
      await refresh(true);
    }, "Could not close the session");
  });

  poller = poll(refresh, POLL_MS);
});
