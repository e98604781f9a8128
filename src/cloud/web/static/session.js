/* One session's attendance; keeps polling while the session is open. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, notify, showError, withBusy, fmtDateTime, statusBadge, poll } = Rollcall;
  const sessionId = document.getElementById("session-page").dataset.sessionId;
  const POLL_MS = Number(document.body.dataset.pollMs) || 2000;
  const rows = document.getElementById("attendance-rows");
  const emptyNote = document.getElementById("attendance-empty");
  const closeBtn = document.getElementById("close-session");
  let poller = null;
  let failed = false;

  async function refresh() {
    try {
      const { session, records } = await api(`/api/sessions/${encodeURIComponent(sessionId)}/attendance`);
      document.title = `${session.name || "Session"} · Rollcall`;
      document.getElementById("session-title").textContent = session.name || "Session";
      const ends = session.status === "closed" ? session.closed_ms || session.ends_ms : session.ends_ms;
      document.getElementById("session-times").textContent =
        `${session.classroom_id} · ${fmtDateTime(session.starts_ms)} – ${ends ? fmtDateTime(ends) : "open-ended"}`;
      document.getElementById("session-status").replaceWith(Object.assign(statusBadge(session.status), { id: "session-status" }));
      document.getElementById("present-count").textContent = `(${records.length} present)`;
      closeBtn.hidden = session.status === "closed";
      closeBtn.textContent = session.status === "scheduled" ? "Cancel session" : "Close session";
      AttendanceTable.render(rows, records, emptyNote);
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
      await api(`/api/sessions/${encodeURIComponent(sessionId)}/close`, { method: "POST" });
      notify("Session closed.", "success");
      await refresh();
    }, "Could not close the session");
  });

  poller = poll(refresh, POLL_MS);
});
