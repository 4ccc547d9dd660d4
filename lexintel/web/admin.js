// LexIntel's management pages: cases (create, rename, delete, share), people (admins: users) and API tokens,
// plus the first-run form that creates the first admin. One ES module loaded after the page's own script; it
// shares nothing with it but the DOM: buttons go in <nav id="admin-nav">, pages open in a modal <dialog>
// (focus stays inside, Escape closes, focus returns to the button), the first-run form goes at the top of <main>.
// The DOM is built with textContent only, never markup strings.
//
// Talking to the page: after a rename or delete made here (or in another tab of this browser, over a
// BroadcastChannel) a cancelable `lexintel:case-renamed` / `lexintel:case-deleted` event is dispatched on
// window with {id, name, previous_name?}. A page that handles it calls preventDefault(); otherwise this module
// does the minimum itself (updates the case's <option>s, leaves a deleted case that is open here); LexIntel's own
// page (app.js) handles both, so a deletion is told once. Other people's tabs hear the same through the case
// stream (`case_renamed`, `case_deleted`) and, whatever case they have open, `cases_changed` (lexintel/case_list.py).

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const channel = "BroadcastChannel" in window ? new BroadcastChannel("lexintel-cases") : null;

const state = { me: null, auth: "on", csrf: null, opener: null, page: null };

class ApiError extends Error {
  constructor(message, status, code, body) { super(message); this.status = status; this.code = code; this.body = body; }
}

async function api(path, { method = "GET", json, quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (state.csrf && method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch {
    throw new ApiError("The server cannot be reached. Check the connection and try again.", 0, "offline", null);
  }
  let body = null;
  if (resp.status !== 204) { try { body = await resp.json(); } catch { body = null; } }
  if (!resp.ok) {
    if (resp.status === 401 && !quiet401) setTimeout(refresh, 0);
    const detail = body && typeof body.detail === "string" ? body.detail : `The server answered ${resp.status}.`;
    throw new ApiError(detail, resp.status, body && body.code, body);
  }
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "on") { for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn); continue; }
    if (key in node && !key.includes("-")) node[key] = value; else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const plural = (n, one, many = `${one}s`) => `${Number(n || 0).toLocaleString("en")} ${n === 1 ? one : many}`;
function megabytes(bytes) {  // sizes as the rest of LexIntel says them (MiB), small ones in KB rather than "0 MB"
  if (bytes < 1024) return plural(bytes, "byte");
  if (bytes < 1048576) return `${Math.ceil(bytes / 1024).toLocaleString("en")} KB`;
  return `${(bytes / 1048576).toLocaleString("en", { maximumFractionDigits: 1 })} MB`;
}
function when(value) {
  if (value === null || value === undefined || value === "") return "never";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function field(label, input, hint) {
  const id = input.id || `admin-f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  const hintNode = hint ? el("span", { className: "hint", id: `${id}-hint` }, hint) : null;
  if (hintNode) input.setAttribute("aria-describedby", hintNode.id);
  return el("span", { className: "field" }, el("label", { htmlFor: id }, label), input, hintNode);
}

function button(text, onClick, attrs = {}) {
  return el("button", { type: "button", ...attrs, on: { click: onClick } }, text);
}

// ---------------------------------------------------------------- dialogs
function dialog() {
  let box = $("admin-dialog");
  if (box) return box;
  box = el("dialog", { id: "admin-dialog", className: "admin-dialog", "aria-labelledby": "admin-title" },
    el("div", { className: "admin-head" }, el("h2", { id: "admin-title", tabIndex: -1 }),
      button("Close", () => box.close(), { className: "secondary", id: "admin-close" })),
    el("p", { id: "admin-status", className: "admin-status", role: "status", "aria-live": "polite" }),
    el("div", { id: "admin-body" }));
  box.addEventListener("close", () => {
    state.page = null;
    if (state.opener && state.opener.isConnected) state.opener.focus();
  });
  document.body.append(box);
  return box;
}

function tell(text, kind = "") {
  const node = $("admin-status");
  if (!node) return;
  node.textContent = text;
  node.dataset.kind = kind;
}

async function openPage(name, title, render, opener) {
  const box = dialog();
  state.opener = opener || document.activeElement;
  state.page = { name, render };
  $("admin-title").textContent = title;
  tell("");
  $("admin-body").replaceChildren(el("p", { className: "muted" }, "Loading…"));
  if (!box.open) box.showModal();
  $("admin-title").focus();
  await rerender();
}

async function rerender() {
  if (!state.page) return;
  try {
    const nodes = await state.page.render();
    $("admin-body").replaceChildren(...nodes);
  } catch (err) {
    $("admin-body").replaceChildren();
    tell(err.message, "error");
  }
}

// A yes/no question in its own modal dialog; resolves true when confirmed. Cancel has the focus.
function confirmAction({ title, lines, yes, extra = null }) {
  return new Promise((resolve) => {
    const cancel = button("Cancel", () => box.close("no"), { className: "secondary" });
    const ok = button(yes, () => box.close("yes"), { className: "danger" });
    const box = el("dialog", { className: "admin-dialog confirm", "aria-labelledby": "admin-confirm-title",
      "aria-describedby": "admin-confirm-text" },
    el("h2", { id: "admin-confirm-title" }, title),
    el("div", { id: "admin-confirm-text" }, ...lines.map((line) => el("p", {}, line))), extra,
    el("p", { className: "actions" }, cancel, ok));
    box.addEventListener("close", () => { box.remove(); resolve(box.returnValue === "yes"); });
    document.body.append(box);
    box.showModal();
    cancel.focus();
  });
}

// ---------------------------------------------------------------- telling the page (this tab and the others)
function announce(type, detail, fromOtherTab = false) {
  const event = new CustomEvent(`lexintel:case-${type}`, { detail, cancelable: true });
  const handled = !window.dispatchEvent(event);
  if (!fromOtherTab && channel) channel.postMessage({ type, detail });
  if (handled) return;
  for (const option of document.querySelectorAll("select option")) {
    if (option.value !== detail.id) continue;
    if (type === "renamed") option.textContent = detail.name; else option.remove();
  }
  const title = $("case-title");
  if (type === "renamed" && title && title.textContent === detail.previous_name) title.textContent = detail.name;
  if (type === "deleted" && new URLSearchParams(location.hash.slice(1)).get("case") === detail.id) {
    sessionStorage.setItem("lexintel-notice", `The case “${detail.name}” was deleted.`);
    location.replace(location.pathname);  // reopen the page with no case
  }
}

if (channel) {
  channel.addEventListener("message", (e) => {
    const { type, detail } = e.data || {};
    if ((type === "renamed" || type === "deleted") && detail && typeof detail.id === "string") {
      announce(type, detail, true);
      if (state.page && state.page.name === "cases") rerender();
    }
  });
}

// ---------------------------------------------------------------- cases
async function casesPage() {
  const cases = await api("/cases");
  const details = await Promise.all(cases.slice(0, 500).map((c) => api(`/cases/${enc(c.id)}`).catch(() => null)));
  const nameInput = el("input", { type: "text", maxLength: 200, required: true, autocomplete: "off" });
  const create = el("form", { className: "admin-form", on: { submit: async (e) => {
    e.preventDefault();
    try {
      const made = await api("/cases", { method: "POST", json: { name: nameInput.value } });
      tell(`Created the case “${made.name}”.`, "ok");
      if (channel) channel.postMessage({ type: "created", detail: { id: made.id, name: made.name } });
      window.dispatchEvent(new CustomEvent("lexintel:case-created", { detail: made }));
      await rerender();
    } catch (err) { tell(err.message, "error"); }
  } } }, field("New case", nameInput), el("button", { type: "submit" }, "Create case"));

  const rows = details.filter(Boolean).map((c) => caseRow(c));
  const table = rows.length ? el("table", { className: "admin-table" },
    el("caption", {}, `${plural(rows.length, "case")} you can open`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Case"), el("th", { scope: "col" }, "Owner"),
      el("th", { scope: "col" }, "Documents"), el("th", { scope: "col" }, "Actions"))),
    el("tbody", {}, ...rows)) : el("p", { className: "muted" }, "No cases yet.");
  return [create, table];
}

function caseRow(c) {
  const nameCell = el("td", {}, el("span", { className: "case-name" }, c.name));
  const actions = el("td", { className: "actions" });
  const row = el("tr", { "data-case-id": c.id }, nameCell, el("td", {}, c.owner || "—"),
    el("td", {}, `${plural(c.documents, "document")}, ${plural(c.passages, "passage")}`), actions);
  if (!c.can_manage) {
    actions.append(el("span", { className: "muted" }, "Shared with you"));
    return row;
  }
  actions.append(
    button("Rename", () => renameInline(c, nameCell), { "aria-label": `Rename ${c.name}` }),
    button("Share", (e) => openPage("shares", `Sharing “${c.name}”`, () => sharesPage(c), e.currentTarget),
      { "aria-label": `Share ${c.name}` }),
    button("Delete", () => deleteCase(c), { className: "danger", "aria-label": `Delete ${c.name}` }));
  return row;
}

function renameInline(c, cell) {
  const input = el("input", { type: "text", value: c.name, maxLength: 200, required: true, autocomplete: "off",
    "aria-label": `New name for ${c.name}` });
  const restore = () => { cell.replaceChildren(el("span", { className: "case-name" }, c.name)); };
  const form = el("form", { className: "inline-form", on: { submit: async (e) => {
    e.preventDefault();
    try {
      const renamed = await api(`/cases/${enc(c.id)}`, { method: "PATCH", json: { name: input.value } });
      tell(`Renamed “${c.name}” to “${renamed.name}”.`, "ok");
      announce("renamed", { id: c.id, name: renamed.name, previous_name: c.name });
      await rerender();
    } catch (err) { tell(err.message, "error"); input.focus(); }
  } } }, input, el("button", { type: "submit" }, "Save"), button("Cancel", () => { restore(); }, { className: "secondary" }));
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); restore(); }  // not the dialog's Escape: only the edit ends
  });
  cell.replaceChildren(form);
  input.focus();
  input.select();
}

async function deleteCase(c) {
  let fresh = c;
  try { fresh = await api(`/cases/${enc(c.id)}`); } catch (err) { tell(err.message, "error"); return; }
  const ok = await confirmAction({
    title: `Delete the case “${fresh.name}”?`,
    lines: [
      `This deletes ${plural(fresh.documents, "document")} (${plural(fresh.passages, "passage")}, ` +
        `${plural(fresh.pages, "page")}, ${megabytes(fresh.size_bytes)} of original files), its batches, unfinished ` +
        "uploads and activity log, for everyone it is shared with.",
      "This cannot be undone.",
    ],
    yes: `Delete “${fresh.name}” and ${plural(fresh.documents, "document")}`,
  });
  if (!ok) { tell("Nothing was deleted."); return; }
  try {
    await api(`/cases/${enc(c.id)}`, { method: "DELETE" });
    tell(`Deleted the case “${fresh.name}” and ${plural(fresh.documents, "document")}.`, "ok");
    announce("deleted", { id: c.id, name: fresh.name });
    await rerender();
  } catch (err) { tell(err.message, "error"); }
}

// ---------------------------------------------------------------- sharing
async function sharesPage(c) {
  let shares = null;
  let unavailable = "";
  try { shares = await api(`/cases/${enc(c.id)}/shares`); } catch (err) {
    if (err.status === 404 || err.status === 405) unavailable = "This server cannot list a case's shares.";
    else throw err;
  }
  const who = el("input", { type: "text", required: true, autocomplete: "off", maxLength: 64 });
  const access = el("select", {}, el("option", { value: "read" }, "Read only"),
    el("option", { value: "write" }, "Read and change (upload, retry, delete documents)"));
  const form = el("form", { className: "admin-form", on: { submit: async (e) => {
    e.preventDefault();
    try {
      const made = await api(`/cases/${enc(c.id)}/shares`, { method: "POST",
        json: { user: who.value.trim(), access: access.value } });
      const name = typeof made.user === "string" ? made.user : made.user.name;
      tell(`Shared “${c.name}” with ${name} (${access.value === "write" ? "read and change" : "read only"}).`, "ok");
      await rerender();
    } catch (err) { tell(err.message, "error"); who.focus(); }
  } } }, field("Share with (user name)", who), field("Access", access), el("button", { type: "submit" }, "Share"));
  if (!shares) return [form, el("p", { className: "muted" }, unavailable)];
  const rows = shares.map((s) => {
    const name = typeof s.user === "string" ? s.user : s.user.name;
    return el("tr", { "data-user": name }, el("td", {}, name),
      el("td", {}, s.access === "write" ? "Read and change" : "Read only"), el("td", {}, when(s.created_at)),
      el("td", { className: "actions" }, button("Stop sharing", async () => {
        try {
          await api(`/cases/${enc(c.id)}/shares/${enc(name)}`, { method: "DELETE" });
          tell(`${name} no longer has “${c.name}”.`, "ok");
          await rerender();
        } catch (err) { tell(err.message, "error"); }
      }, { "aria-label": `Stop sharing with ${name}` })));
  });
  const table = rows.length ? el("table", { className: "admin-table" },
    el("caption", {}, `Shared with ${plural(rows.length, "person", "people")}`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "User"), el("th", { scope: "col" }, "Access"),
      el("th", { scope: "col" }, "Since"), el("th", { scope: "col" }, "Actions"))), el("tbody", {}, ...rows))
    : el("p", { className: "muted" }, "Not shared with anyone.");
  return [form, table, button("Back to cases", (e) => openPage("cases", "Cases", casesPage, e.currentTarget),
    { className: "secondary" })];
}

// ---------------------------------------------------------------- API tokens
async function tokensPage(user = null) {
  const mine = !user || (state.me && user === state.me.user.name);
  const tokens = await api(mine ? "/auth/tokens" : `/tokens?user=${enc(user)}`);
  const nodes = [];
  if (mine) {
    const name = el("input", { type: "text", maxLength: 100, autocomplete: "off", placeholder: "e.g. laptop CLI" });
    const days = el("input", { type: "number", min: 1, max: 365, value: 90, required: true, inputMode: "numeric" });
    const secretBox = el("div", { id: "admin-secret", hidden: true });
    nodes.push(el("form", { className: "admin-form", on: { submit: async (e) => {
      e.preventDefault();
      try {
        const made = await api("/auth/tokens", { method: "POST", json: { name: name.value.trim(),
          expires_in_days: Number(days.value) } });
        await rerender();
        showSecret(made);
      } catch (err) { tell(err.message, "error"); }
    } } }, field("Token name", name), field("Expires after (days)", days, "1 to 365"),
    el("button", { type: "submit" }, "Create token")), secretBox);
  }
  const rows = tokens.map((t) => el("tr", { "data-token-id": t.id }, el("td", {}, t.name || "(no name)"),
    el("td", {}, when(t.created_at)), el("td", {}, when(t.expires_at)), el("td", {}, when(t.last_used_at)),
    el("td", { className: "actions" }, revokeButton(t))));
  nodes.push(rows.length ? el("table", { className: "admin-table" },
    el("caption", {}, mine ? `Your ${plural(rows.length, "token")}` : `${plural(rows.length, "token")} of ${user}`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Created"),
      el("th", { scope: "col" }, "Expires"), el("th", { scope: "col" }, "Last used"), el("th", { scope: "col" }, "Actions"))),
    el("tbody", {}, ...rows)) : el("p", { className: "muted" }, mine ? "You have no API tokens." : `${user} has no API tokens.`));
  if (!mine) nodes.push(button("Back to users", (e) => openPage("users", "Users", usersPage, e.currentTarget), { className: "secondary" }));
  return nodes;
}

function showSecret(made) {
  const box = $("admin-secret");
  const secret = el("input", { type: "text", readOnly: true, value: made.token, className: "secret",
    "aria-label": "The new token" });
  const copy = button("Copy", async () => {
    secret.select();
    try { await navigator.clipboard.writeText(made.token); tell("Copied the token.", "ok"); } catch {
      tell("Copy it from the selected field (Ctrl+C).");
    }
  });
  box.replaceChildren(el("p", { className: "warning" }, `This is the only time the token “${made.name || "(no name)"}” is `
    + "shown: copy it now and keep it like a password. Use it as LEXINTEL_TOKEN or 'Authorization: Bearer …'."),
  el("p", { className: "secret-row" }, secret, copy));
  box.hidden = false;
  tell("Token created: copy it now, it will not be shown again.", "ok");
  secret.focus();
  secret.select();
}

function revokeButton(t) {
  const revoke = button("Revoke", async () => {
    if (revoke.dataset.armed !== "1") {  // first press arms it: a revoked token cannot be brought back
      revoke.dataset.armed = "1";
      revoke.textContent = "Press again to revoke";
      return;
    }
    try {
      await api(`/auth/tokens/${enc(t.id)}`, { method: "DELETE" });
      tell(`Revoked the token “${t.name || "(no name)"}”: it no longer works.`, "ok");
      await rerender();
    } catch (err) { tell(err.message, "error"); }
  }, { className: "danger", "aria-label": `Revoke ${t.name || "the unnamed token"}` });
  revoke.addEventListener("blur", () => { revoke.dataset.armed = ""; revoke.textContent = "Revoke"; });
  return revoke;
}

// ---------------------------------------------------------------- users (admins)
async function usersPage() {
  const users = await api("/users");
  const name = el("input", { type: "text", required: true, maxLength: 64, autocomplete: "off" });
  const password = el("input", { type: "password", required: true, autocomplete: "new-password" });
  const role = el("select", {}, el("option", { value: "member" }, "Member"), el("option", { value: "admin" }, "Admin"));
  const add = el("form", { className: "admin-form", on: { submit: async (e) => {
    e.preventDefault();
    try {
      const made = await api("/users", { method: "POST", json: { name: name.value.trim(), password: password.value,
        role: role.value } });
      tell(`Added ${made.name} (${made.role}).`, "ok");
      await rerender();
    } catch (err) { tell(err.message, "error"); }
  } } }, field("User name", name), field("Password", password, "a few words make a good one"), field("Role", role),
  el("button", { type: "submit" }, "Add user"));
  const rows = users.map((u) => userRow(u, users));
  return [add, el("table", { className: "admin-table" }, el("caption", {}, plural(users.length, "user")),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "User"), el("th", { scope: "col" }, "Role"),
      el("th", { scope: "col" }, "Status"), el("th", { scope: "col" }, "Actions"))), el("tbody", {}, ...rows))];
}

function userRow(u, users) {
  const self = state.me && state.me.user.name.toLowerCase() === u.name.toLowerCase();
  const actions = el("td", { className: "actions" });
  const row = el("tr", { "data-user": u.name }, el("td", {}, u.name, self ? " (you)" : ""),
    el("td", {}, u.role === "admin" ? "Admin" : "Member"), el("td", {}, u.disabled ? "Disabled" : "Active"), actions);
  if (!self) {
    actions.append(button(u.disabled ? "Enable" : "Disable", async () => {
      try {
        await api(`/users/${enc(u.name)}`, { method: "PATCH", json: { disabled: !u.disabled } });
        tell(u.disabled ? `${u.name} can log in again.` : `${u.name} is disabled: logged out, tokens stopped.`, "ok");
        await rerender();
      } catch (err) { tell(err.message, "error"); }
    }, { "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.name}` }));
  }
  actions.append(button("Reset password", () => resetInline(u, actions), { "aria-label": `Reset the password of ${u.name}` }),
    button("Tokens", (e) => openPage("user-tokens", `API tokens of ${u.name}`, () => tokensPage(u.name), e.currentTarget),
      { className: "secondary", "aria-label": `API tokens of ${u.name}` }));
  if (!self) {
    actions.append(button("Delete", () => deleteUser(u, users), { className: "danger", "aria-label": `Delete ${u.name}` }));
  }
  return row;
}

function resetInline(u, cell) {
  const input = el("input", { type: "password", required: true, autocomplete: "new-password",
    "aria-label": `New password for ${u.name}` });
  const form = el("form", { className: "inline-form", on: { submit: async (e) => {
    e.preventDefault();
    try {
      await api(`/users/${enc(u.name)}/password`, { method: "POST", json: { password: input.value } });
      tell(`New password set for ${u.name}; their sessions were ended.`, "ok");
      await rerender();
    } catch (err) { tell(err.message, "error"); input.focus(); }
  } } }, input, el("button", { type: "submit" }, "Set password"), button("Cancel", () => rerender(), { className: "secondary" }));
  input.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); rerender(); } });
  cell.replaceChildren(form);
  input.focus();
}

async function deleteUser(u, users) {
  const heirs = users.filter((o) => o.name !== u.name && !o.disabled);
  const heir = el("select", { id: "admin-heir" }, el("option", { value: "" }, "Nobody (refused if they own cases)"),
    ...heirs.map((o) => el("option", { value: o.name }, o.name)));
  const ok = await confirmAction({
    title: `Delete the user ${u.name}?`,
    lines: [`${u.name} will no longer be able to log in; their API tokens, sessions and shares are deleted.`,
      "The cases they own are kept only if you give them to someone:"],
    extra: field("Give their cases to", heir), yes: `Delete ${u.name}`,
  });
  if (!ok) { tell("Nobody was deleted."); return; }
  try {
    const query = heir.value ? `?transfer_to=${enc(heir.value)}` : "";
    await api(`/users/${enc(u.name)}${query}`, { method: "DELETE" });
    tell(`Deleted ${u.name}${heir.value ? `; their cases now belong to ${heir.value}` : ""}.`, "ok");
    await rerender();
  } catch (err) { tell(err.message, "error"); }
}

// ---------------------------------------------------------------- first run (no users yet)
function showFirstRun(status) {
  const login = $("login");
  const focusLost = !document.activeElement || document.activeElement === document.body
    || (login && login.contains(document.activeElement));
  if (login && !login.hidden) login.hidden = true;  // (only when shown: the observer below watches it)
  const shown = $("first-run");
  if (shown) {  // the page showed its login form again (a 401 elsewhere) and focused it: the focus comes back here
    if (focusLost) shown.querySelector("input")?.focus();
    return;
  }
  const name = el("input", { type: "text", required: true, maxLength: 64, autocomplete: "username", value: "admin" });
  const password = el("input", { type: "password", required: true, autocomplete: "new-password" });
  const again = el("input", { type: "password", required: true, autocomplete: "new-password" });
  const code = el("input", { type: "text", required: true, autocomplete: "one-time-code", inputMode: "numeric",
    placeholder: "1234-5678-9012" });
  const message = el("p", { id: "first-run-message", className: "message", role: "status", "aria-live": "polite" });
  const form = el("form", { className: "stack", on: { submit: async (e) => {
    e.preventDefault();
    if (password.value !== again.value) {
      message.textContent = "The two passwords differ: type the same password twice.";
      message.dataset.kind = "error";
      again.focus();
      return;
    }
    message.textContent = "Creating the administrator…";
    message.dataset.kind = "";
    try {
      const body = { name: name.value.trim(), password: password.value };
      if (status.code_required) body.code = code.value.trim();
      await api("/setup", { method: "POST", json: body, quiet401: true });
      message.textContent = `Created ${body.name}. Opening LexIntel…`;
      message.dataset.kind = "ok";
      location.reload();  // logged in already (the answer set the session cookie): start the page afresh
    } catch (err) {
      message.textContent = err.message;
      message.dataset.kind = "error";
    }
  } } },
  field("Administrator's user name", name), field("Password", password, "a few words make a good one"),
  field("The same password again", again),
  status.code_required ? field("Setup code", code, "printed in the server's log when it started (a line with “setup code”)")
    : null,
  el("button", { type: "submit" }, "Create the administrator"));
  const section = el("section", { id: "first-run", className: "panel narrow first-run", "aria-labelledby": "first-run-heading" },
    el("h2", { id: "first-run-heading" }, "Welcome: this server has no users yet"),
    el("p", {}, "Create the first administrator here. They can then add everyone else (People, in the header)."),
    status.code_required
      ? el("p", {}, "You are not on the server's own machine, so the setup code from the server's log is needed.")
      : el("p", {}, "You are on the server's own machine, so no setup code is needed."),
    form, message);
  const main = $("main") || document.querySelector("main") || document.body;
  main.prepend(section);
  name.focus();
  name.select();
}

function hideFirstRun() {
  const section = $("first-run");
  if (section) section.remove();
}

// ---------------------------------------------------------------- the nav and the session
function renderNav() {
  const nav = $("admin-nav");
  if (!nav) return;
  const me = state.me;
  nav.hidden = !me;
  if (!me) { nav.replaceChildren(); return; }
  const items = [button("Cases", (e) => openPage("cases", "Cases", casesPage, e.currentTarget), { id: "admin-cases" })];
  if (state.auth === "on") {
    items.push(button("API tokens", (e) => openPage("tokens", "Your API tokens", () => tokensPage(), e.currentTarget),
      { id: "admin-tokens" }));
    if (me.user.role === "admin") {
      items.push(button("People", (e) => openPage("users", "Users", usersPage, e.currentTarget), { id: "admin-users" }));
    }
  }
  for (const item of items) item.classList.add("secondary");
  nav.replaceChildren(...items);
}

let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const me = await api("/auth/me", { quiet401: true });
      state.me = me;
      state.auth = me.auth || "on";
      state.csrf = me.csrf_token || null;
      hideFirstRun();
    } catch (err) {
      state.me = null;
      state.csrf = null;
      if (err.status === 401) {
        try {
          const status = await api("/setup", { quiet401: true });
          if (status.needed) showFirstRun(status); else hideFirstRun();
        } catch { /* an older server without /setup: the login form is all there is */ }
      }
    } finally {
      renderNav();
      refreshing = null;
    }
  })();
  return refreshing;
}

function start() {
  const notice = sessionStorage.getItem("lexintel-notice");
  if (notice) {
    sessionStorage.removeItem("lexintel-notice");
    const node = el("p", { id: "admin-notice", className: "admin-notice", role: "status" }, notice);
    (document.querySelector("main") || document.body).prepend(node);
  }
  // The page shows and hides its login form as the session comes and goes: follow it.
  const login = $("login");
  if (login) new MutationObserver(() => refresh()).observe(login, { attributes: true, attributeFilter: ["hidden"] });
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });
  refresh();
}

start();
