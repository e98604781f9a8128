/* Users page (admins): add users, enable/disable them, create and revoke API tokens. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notify, showError, withBusy, fmtDateTime } = Rollcall;
  const me = (document.getElementById("account-name") || {}).textContent || "";

  function userRow(user) {
    const self = me.startsWith(`${user.username} (`);
    const toggle = el("button", { type: "button", class: `button small${user.disabled ? "" : " danger"}`, disabled: self },
      user.disabled ? "Enable" : "Disable");
    toggle.addEventListener("click", () => {
      withBusy(toggle, async () => {
        await api(`/api/users/${encodeURIComponent(user.username)}`, { method: "PATCH", json: { disabled: !user.disabled } });
        notify(`${user.username} ${user.disabled ? "enabled" : "disabled"}.`, "success");
        await load();
      }, `Could not change ${user.username}`);
    });
    return el("tr", { dataset: { username: user.username } },
      el("td", {}, el("div", { class: "person-name" }, user.username), el("div", { class: "person-id" }, `since ${fmtDateTime(user.created_ms)}`)),
      el("td", {}, user.role),
      el("td", {}, user.disabled ? el("span", { class: "badge closed" }, "Disabled") : el("span", { class: "badge open" }, "Active")),
      el("td", { class: "actions-cell" }, el("div", { class: "actions" }, toggle)));
  }

  function tokenRow(token) {
    const revoke = el("button", { type: "button", class: "button small danger", hidden: token.revoked }, "Revoke");
    revoke.addEventListener("click", () => {
      if (!confirm(`Revoke the token "${token.name}"? Scripts using it stop working at once.`)) return;
      withBusy(revoke, async () => {
        await api(`/api/tokens/${encodeURIComponent(token.name)}`, { method: "DELETE" });
        notify(`Token ${token.name} revoked.`, "success");
        await load();
      }, `Could not revoke ${token.name}`);
    });
    return el("tr", { dataset: { token: token.name } },
      el("td", {}, el("div", { class: "person-name" }, token.name), el("div", { class: "person-id" }, `by ${token.created_by}`)),
      el("td", {}, token.role),
      el("td", {}, fmtDateTime(token.created_ms)),
      el("td", {}, token.revoked ? el("span", { class: "badge closed" }, "Revoked") : el("span", { class: "badge open" }, "Active")),
      el("td", { class: "actions-cell" }, el("div", { class: "actions" }, revoke)));
  }

  async function load() {
    try {
      const [{ users }, { tokens }] = await Promise.all([api("/api/users"), api("/api/tokens")]);
      document.getElementById("user-rows").replaceChildren(...users.map(userRow));
      document.getElementById("token-rows").replaceChildren(...tokens.map(tokenRow));
    } catch (err) {
      showError(err, "Could not load users and tokens");
    }
  }

  const userForm = document.getElementById("user-form");
  userForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      username: document.getElementById("user-name").value.trim(),
      role: document.getElementById("user-role").value,
      password: document.getElementById("user-password").value,
    };
    withBusy(userForm.querySelector("button[type=submit]"), async () => {
      await api("/api/users", { method: "POST", json: body });
      notify(`${body.username} added.`, "success");
      userForm.reset();
      await load();
    }, "Could not add the user");
  });

  const tokenForm = document.getElementById("token-form");
  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { name: document.getElementById("token-name").value.trim(), role: document.getElementById("token-role").value };
    withBusy(tokenForm.querySelector("button[type=submit]"), async () => {
      const created = await api("/api/tokens", { method: "POST", json: body });
      const box = document.getElementById("new-token-box");
      const field = document.getElementById("new-token");
      field.value = created.token;
      box.hidden = false;
      field.select();
      notify(`Token ${created.name} created. Copy it now.`, "success");
      tokenForm.reset();
      await load();
    }, "Could not create the token");
  });

  load();
});
