/* Shared helpers of the Rollcall dashboard: API calls, notices, DOM building, formatting. */
"use strict";

const Rollcall = (() => {
  /** An error answered by the API: {"error": {"code", "message"}}. */
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** The CSRF token of this page (meta tag), sent with every state-changing request. */
  const csrfToken = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
  /** Pages followed at most by one GET of a paginated list (limit x pages items). */
  const MAX_PAGES = 200;

  /** One request; returns the parsed body (null for 204); throws ApiError. */
  async function request(path, { method = "GET", json, body, headers = {} } = {}) {
    const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
    if (!SAFE_METHODS.has(method.toUpperCase())) init.headers["X-CSRFToken"] = csrfToken();
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (body !== undefined) {
      init.body = body;
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "network", "Cannot reach the Rollcall server. Check that it is running.");
    }
    if (response.status === 401 && document.body.dataset.page !== "login") {
      // the session ended (expired, logged out elsewhere, account disabled): log in again, then come back
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
    }
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("application/json") ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      const err = data && data.error;
      throw new ApiError(
        response.status,
        (err && err.code) || "http_" + response.status,
        (err && err.message) || `Request failed (HTTP ${response.status}).`
      );
    }
    return data;
  }

  /** Call the JSON API. A GET of a paginated list (an answer with "next") follows every page
   * and returns the lists joined, so pages keep working past one page of items. */
  async function api(path, options = {}) {
    const data = await request(path, options);
    if (SAFE_METHODS.has((options.method || "GET").toUpperCase()) && data && typeof data.next === "string") {
      let next = data.next;
      for (let n = 1; next && n < MAX_PAGES; n++) {
        const url = new URL(path, window.location.origin);
        url.searchParams.set("cursor", next);
        const more = await request(url.pathname + url.search, options);
        for (const [key, value] of Object.entries(more || {})) {
          if (Array.isArray(value) && Array.isArray(data[key])) data[key] = data[key].concat(value);
        }
        next = more && typeof more.next === "string" ? more.next : null;
      }
      data.next = next;
    }
    return data;
  }

  /** Build an element: el("td", {class: "num"}, "text", childNode). Text is never parsed as HTML. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const noticeBox = () => document.getElementById("notices");

  /** Show a notice. kind: "error" (stays until closed) or "success" (fades). */
  function notify(message, kind = "error", title) {
    const box = noticeBox();
    if (!box) return;
    const close = el("button", { type: "button", "aria-label": "Dismiss message" }, "×");
    const notice = el(
      "div",
      { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
      el("p", {}, title ? el("strong", {}, title) : null, message),
      close
    );
    close.addEventListener("click", () => notice.remove());
    box.append(notice);
    while (box.children.length > 4) box.firstElementChild.remove();
    if (kind !== "error") setTimeout(() => notice.remove(), 4000);
    else setTimeout(() => notice.remove(), 15000);
    return notice;
  }

  /** Show an API error (or any error) to the user. */
  function showError(err, context) {
    const message = err instanceof ApiError ? err.message : (err && err.message) || String(err);
    notify(message, "error", context);
  }

  /** Run an async action with the button disabled; show errors. */
  async function withBusy(button, action, context) {
    if (button) button.disabled = true;
    try {
      return await action();
    } catch (err) {
      showError(err, context);
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  const fmtTime = (ms) => (ms ? timeFmt.format(new Date(ms)) : "–");
  const fmtDateTime = (ms) => (ms ? dateTimeFmt.format(new Date(ms)) : "–");
  function fmtDuration(ms) {
    if (ms < 0 || !Number.isFinite(ms)) return "–";
    const minutes = Math.floor(ms / 60000);
    const hours = Math.floor(minutes / 60);
    return hours ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
  }
  const fmtSimilarity = (value) => (value === null || value === undefined ? "manual" : `${Number(value).toFixed(1)}%`);

  function initials(name) {
    const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
    return ((parts[0] || "?")[0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
  }

  /** Path of an evidence image in the API. */
  const evidenceUrl = (ref) => "/api/evidence/" + String(ref).split("/").map(encodeURIComponent).join("/");

  /** A round avatar: the evidence crop when there is one, else initials. */
  function avatar(name, ref) {
    if (ref) {
      const img = el("img", { class: "avatar", src: evidenceUrl(ref), alt: "", loading: "lazy" });
      img.addEventListener("error", () => img.replaceWith(el("span", { class: "avatar", "aria-hidden": "true" }, initials(name))), { once: true });
      return img;
    }
    return el("span", { class: "avatar", "aria-hidden": "true" }, initials(name));
  }

  function statusBadge(status) {
    const labels = { open: "Open", scheduled: "Scheduled", closed: "Closed" };
    return el("span", { class: `badge ${status}` }, labels[status] || status);
  }

  /** Fill a <select> with classrooms; keeps the current choice when possible. */
  function fillClassroomSelect(select, classrooms, { placeholder, selected } = {}) {
    const current = selected !== undefined ? selected : select.value;
    select.replaceChildren();
    if (placeholder !== undefined) select.append(el("option", { value: "" }, placeholder));
    for (const room of classrooms) {
      select.append(el("option", { value: room.classroom_id }, `${room.name} (${room.classroom_id})`));
    }
    if ([...select.options].some((o) => o.value === current)) select.value = current;
  }

  /** Call fn now and every intervalMs, pausing while the tab is hidden; never overlapping. */
  function poll(fn, intervalMs) {
    let timer = null;
    let running = false;
    async function tick() {
      if (running) return;
      running = true;
      try {
        await fn();
      } finally {
        running = false;
      }
    }
    function start() {
      if (timer === null) timer = setInterval(tick, intervalMs);
    }
    function stop() {
      clearInterval(timer);
      timer = null;
    }
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) stop();
      else {
        tick();
        start();
      }
    });
    tick();
    start();
    return { tick, stop };
  }

  /** Keep the "Unknown faces" nav badge up to date. */
  async function refreshUnknownCount() {
    const badge = document.getElementById("unknown-count");
    if (!badge) return;
    try {
      const data = await request("/api/unknown-faces?status=pending&limit=1");
      const n = data.total;
      badge.textContent = String(n);
      badge.hidden = n === 0;
      badge.setAttribute("aria-label", `${n} pending`);
    } catch (err) {
      badge.hidden = true;
    }
  }

  /** Warn on every page when recognition or storage is down (GET /api/health). */
  async function checkHealth() {
    const banner = document.getElementById("health-banner");
    if (!banner) return;
    let text = "";
    try {
      const response = await fetch("/api/health", { headers: { Accept: "application/json" } });
      const health = await response.json();
      if (health.storage && !health.storage.ok) {
        text = `The attendance database is unavailable: ${health.storage.detail || "unknown error"}.`;
      } else if (health.rekognition && !health.rekognition.ok) {
        text = "Face recognition is unavailable, so cameras cannot mark anyone present right now" +
          (health.rekognition.detail ? ` (${health.rekognition.detail})` : "") + ".";
      }
    } catch (err) {
      text = "Cannot reach the Rollcall server. Retrying…";
    }
    banner.textContent = text;
    banner.hidden = !text;
  }

  document.addEventListener("DOMContentLoaded", () => {
    refreshUnknownCount();
    checkHealth();
    setInterval(refreshUnknownCount, 15000);
    setInterval(checkHealth, 20000);
  });

  return {
    ApiError, api, request, csrfToken, el, notify, showError, withBusy, fmtTime, fmtDateTime, fmtDuration, fmtSimilarity,
    initials, evidenceUrl, avatar, statusBadge, fillClassroomSelect, poll, refreshUnknownCount, checkHealth,
  };
})();
