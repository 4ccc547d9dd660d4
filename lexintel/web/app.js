// LexIntel's page: the entry module. Login, cases, routing (#case=…&doc=…&page=…), and the wiring between the
// parts: the document table (table.js), the case stream (stream.js), the activity log (log.js), batches
// (batches.js), uploads (upload.js), the viewer (viewer.js) and search (search.js). No framework, no build
// step; every module is served from the package. The DOM is built with textContent only (api.js: el).

import { $, api, el, hashFor, jsonBody, loadStages, readHash, say, session } from "./api.js";
import { BatchList } from "./batches.js";
import { ActivityLog } from "./log.js";
import { Search, hitFromHash } from "./search.js";
import { CaseStream } from "./stream.js";
import { DocumentTable } from "./table.js";
import { Uploader, loadLimits } from "./upload.js";
import { Viewer } from "./viewer.js";

const POLL_MS = 2000;
const TITLE = "LexIntel";

const state = { caseId: null, caseName: "", generation: 0, pollTimer: null, watched: new Map(), titleTimer: null,
  listTimer: null };

const log = new ActivityLog($("activity"));
const table = new DocumentTable();
const viewer = new Viewer();
const search = new Search();
const batches = new BatchList({ onFinished: (b, text) => notify(text) });
const uploader = new Uploader({ caseId: null, onAccepted: onAccepted });
const stream = new CaseStream({
  onState: connectionState,
  onEvent: onStreamEvent,
  onNotice: onStreamNotice,
  onReset: () => openCase(state.caseId),
  onCases: () => caseListChanged(),
});

// ---------------------------------------------------------------- header state
function setConnection(kind, text) {
  const node = $("connection");
  node.dataset.state = kind;
  node.textContent = text;
}

function connectionState(kind) {
  if (!stream.caseId) return;  // the case-list stream (no case open): nothing to show or poll
  if (kind === "live") {
    stopPolling();
    setConnection("live", "Live");
  } else if (kind === "connecting") {
    setConnection("connecting", "Connecting…");
  } else {
    setConnection("down", "Connection lost: reconnecting. Progress is refreshed every few seconds meanwhile.");
    startPolling();
    checkCaseStillThere(state.caseId);
  }
}

function showNotice(text) {
  const node = $("notice");
  node.textContent = text;
  node.hidden = false;
}

function notify(text) {
  showNotice(text);
  document.title = `✓ ${text} – ${TITLE}`;
  clearTimeout(state.titleTimer);
  if (!document.hidden) state.titleTimer = setTimeout(restoreTitle, 15000);
}

function restoreTitle() {
  document.title = state.caseName ? `${state.caseName} – ${TITLE}` : TITLE;
}

// ---------------------------------------------------------------- login (when the server has accounts on)
function showLogin(text = "") {
  stream.close();
  stopPolling();
  state.caseId = null;
  session.csrf = null;
  $("login").hidden = false;
  for (const id of ["case-panel", "workspace", "who", "open-case", "search-form", "upload-box"]) $(id).hidden = true;
  setConnection("idle", "Not logged in");
  say("login-message", text, text ? "error" : "");
  $("login-user").focus();
}
session.onUnauthorized = showLogin;

function showApp(me) {
  session.csrf = me ? me.csrf_token : null;
  $("login").hidden = true;
  $("open-case").hidden = false;
  const named = Boolean(me && me.auth === "on");
  $("who").hidden = !named;
  $("who-name").textContent = named ? me.user.username || me.user.name || "" : "";
  setConnection("idle", "No case open");
}

async function checkLogin() {
  try {
    showApp(await api("/auth/me"));
    return true;
  } catch (err) {
    if (err.status === 401) { showLogin(); return false; }
    showApp(null);  // a server without accounts (no /auth/me): carry on
    return true;
  }
}

async function login(username, password) {
  try {
    const body = await api("/auth/login", jsonBody({ username, password }));
    $("login-password").value = "";
    showApp({ ...body, auth: "on" });
    say("login-message", "");
    await afterLogin();
  } catch (err) {
    say("login-message", err.message, "error");
  }
}

async function logout() {
  try { await api("/auth/logout", { method: "POST" }); } catch { /* the session is gone either way */ }
  history.replaceState(null, "", location.pathname);
  showLogin("You are logged out.");
}

// ---------------------------------------------------------------- cases
async function loadCases(selectId) {
  const select = $("case-select");
  try {
    const cases = await api("/cases");
    select.replaceChildren(el("option", { value: "" }, cases.length ? "Choose a case…" : "No cases yet"));
    for (const c of cases) select.append(el("option", { value: c.id, selected: c.id === selectId }, c.name));
    select.append(el("option", { value: "__new" }, "New case…"));
    if (!selectId) select.value = "";
    return cases;
  } catch (err) {
    say("case-message", err.message, "error");
    return [];
  }
}

async function createCase(name) {
  try {
    const created = await api("/cases", jsonBody({ name }));
    say("case-message", `Created the case “${created.name}”.`, "ok");
    $("case-name").value = "";
    await loadCases(created.id);
    location.hash = hashFor({ case: created.id });
  } catch (err) {
    say("case-message", err.message, "error");
  }
}

function showCasePanel() {
  $("case-panel").hidden = false;
  $("case-name").focus();
}

// Another tab, person or instance changed a case of this user's list (`cases_changed`, or admin.js in this
// browser): reload the switcher, keeping what is chosen in it. A burst of notices makes one request.
function caseListChanged() {
  clearTimeout(state.listTimer);
  state.listTimer = setTimeout(() => {
    const chosen = $("case-select").value;
    loadCases(state.caseId || (chosen.startsWith("__") ? null : chosen));
  }, 100);
}

// The open case was deleted (its stream's `case_deleted`, admin.js in this browser, or a reconnect that finds it
// gone): leave it, and say so once, however many of those arrive.
function caseGone(caseId, name) {
  caseListChanged();
  if (!caseId || caseId !== state.caseId) return;
  stream.close();
  stopPolling();
  state.caseId = null;
  state.generation += 1;
  $("workspace").hidden = true;
  for (const id of ["search-form", "upload-box"]) $(id).hidden = true;
  $("viewer").hidden = true;
  setConnection("idle", "No case open");
  say("case-message", "");
  showNotice(`The case “${name || state.caseName}” was deleted.`);
  state.caseName = "";
  restoreTitle();
  $("case-panel").hidden = false;
  history.replaceState(null, "", location.pathname);
  stream.openList();
}

async function checkCaseStillThere(caseId) {
  try {
    await api(`/cases/${encodeURIComponent(caseId)}`);
  } catch (err) {
    if (err.status === 404) caseGone(caseId, state.caseName);
  }
}

async function openCase(caseId) {
  stream.close();
  stopPolling();
  const generation = ++state.generation;
  state.caseId = caseId;
  state.watched.clear();
  uploader.caseId = caseId;
  log.clear();
  search.reset(caseId);
  $("viewer").hidden = true;
  $("docs").hidden = false;
  say("upload-message", "");
  $("transfers").replaceChildren();
  setConnection("connecting", "Loading the case…");
  let info;
  try {
    // The case's newest event id first, then the documents: every event after that id comes on the stream
    // (one that landed in between is applied twice, harmlessly: updates are idempotent).
    info = await api(`/cases/${encodeURIComponent(caseId)}`);
  } catch (err) {
    if (generation !== state.generation) return;
    state.caseId = null;
    setConnection("idle", "No case open");
    say("case-message", err.message, "error");
    $("workspace").hidden = true;
    $("case-panel").hidden = false;
    stream.openList();
    return;
  }
  if (generation !== state.generation) return;
  state.caseName = info.name;
  restoreTitle();
  $("case-title").textContent = info.name;
  $("case-select").value = caseId;
  say("case-message", "");
  $("case-panel").hidden = true;
  $("workspace").hidden = false;
  $("search-form").hidden = false;
  $("upload-box").hidden = false;
  table.open(caseId);
  await Promise.all([table.load(), batches.open(caseId)]);
  if (generation !== state.generation) return;
  stream.open(caseId, Number(info.last_event_id) || 0);
}

// ---------------------------------------------------------------- the case stream
function onStreamEvent(id, ev, { history }) {
  log.add(id, ev);
  if (ev.document_id) {
    if (!history) {
      table.applyEvent(ev);
      watchedDocument(ev);
    }
  } else if (ev.batch_id) {
    batches.applyEvent(ev, { history });
  }
}

function onStreamNotice(name, id, data, { history }) {
  if (name === "deleted") {
    log.note(id, data.message || `Deleted ${data.filename}`, data.timestamp);
    if (history) return;
    table.removeDocument(data.document_id);
    viewer.forget(data.document_id);
    const params = readHash();
    if (params.get("doc") === data.document_id) {
      history_replace({ case: state.caseId });
      closeViewer();
      say("bulk-message", `${data.filename} was deleted.`, "ok");
    }
  } else if (name === "case_renamed" && data.name) {
    caseRenamed(data.case_id || state.caseId, data.name);
  } else if (name === "case_deleted" && !history) {
    caseGone(state.caseId, data.name);
  }
}

function caseRenamed(caseId, name) {
  if (caseId === state.caseId && name) {
    state.caseName = name;
    $("case-title").textContent = name;
    restoreTitle();
  }
  caseListChanged();
}

function history_replace(params) {
  history.replaceState(null, "", hashFor(params));
}

// Documents uploaded from this tab on their own (no batch): say when each is done.
function watchedDocument(ev) {
  const name = state.watched.get(ev.document_id);
  if (!name) return;
  if (ev.status === "completed") { state.watched.delete(ev.document_id); notify(`${name} is ready.`); }
  if (ev.status === "failed") { state.watched.delete(ev.document_id); notify(`${name} could not be processed.`); }
}

function onAccepted(body) {
  if (!body.batch_id) for (const d of body.documents || []) if (d.status === "pending") state.watched.set(d.id, d.filename);
  table.refreshSoon();
}

// ---------------------------------------------------------------- polling fallback while the stream is down
function startPolling() {
  if (state.pollTimer) return;
  state.pollTimer = setInterval(() => table.pollVisible(), POLL_MS);
  table.pollVisible();
}

function stopPolling() {
  clearInterval(state.pollTimer);
  state.pollTimer = null;
}

// ---------------------------------------------------------------- routing
async function route() {
  const params = readHash();
  const caseId = params.get("case");
  if (!caseId) {
    if (!state.caseId) {
      $("case-panel").hidden = false;
      if (!stream.es) stream.openList();
    }
    return;
  }
  if (caseId !== state.caseId) await openCase(caseId);
  if (state.caseId !== caseId) return;
  const docId = params.get("doc");
  if (docId) {
    $("docs").hidden = true;
    await viewer.show(caseId, docId, Number(params.get("page")) || 1, hitFromHash(params));
    $("viewer-heading").focus({ preventScroll: true });
  } else if (!$("viewer").hidden) {
    closeViewer();
  }
}

function closeViewer() {
  $("viewer").hidden = true;
  $("docs").hidden = false;
  $("docs-heading").focus();
}

// ---------------------------------------------------------------- wiring
function wire() {
  $("open-case").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("case-select").value;
    if (id === "__new") showCasePanel();
    else if (id) location.hash = hashFor({ case: id });
    else say("case-message", "Choose a case from the list first.", "error");
  });
  $("new-case").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("case-name").value.trim();
    if (name) createCase(name);
  });
  const input = $("file-input");
  $("upload-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => { uploader.upload(input.files); input.value = ""; });
  const zone = $("dropzone");
  let depth = 0;
  window.addEventListener("dragenter", (e) => {
    if (!state.caseId || $("workspace").hidden) return;
    e.preventDefault();
    depth += 1;
    zone.classList.add("over");
    document.body.classList.add("dragging");
  });
  window.addEventListener("dragover", (e) => { if (state.caseId) e.preventDefault(); });
  window.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) { zone.classList.remove("over"); document.body.classList.remove("dragging"); }
  });
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove("over");
    document.body.classList.remove("dragging");
    if (state.caseId && e.dataTransfer) uploader.upload(e.dataTransfer.files);
  });
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("search-input").value.trim();
    if (q && state.caseId) search.run(q, $("search-mode").value);
  });
  $("results-close").addEventListener("click", () => {
    $("results").hidden = true;
    $("search-input").focus();
  });
  $("viewer-close").addEventListener("click", () => {
    history_replace({ case: state.caseId });
    closeViewer();
  });
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    login($("login-user").value.trim(), $("login-password").value);
  });
  $("logout").addEventListener("click", logout);
  // admin.js tells of a rename or deletion made in this tab or another tab of this browser; handled here
  // (preventDefault), so its own fallback (reloading the page) does not show the deletion a second time
  window.addEventListener("lexintel:case-renamed", (e) => {
    e.preventDefault();
    if (e.detail) caseRenamed(e.detail.id, e.detail.name);
  });
  window.addEventListener("lexintel:case-deleted", (e) => {
    e.preventDefault();
    if (e.detail) caseGone(e.detail.id, e.detail.name);
  });
  window.addEventListener("lexintel:case-created", () => caseListChanged());
  window.addEventListener("hashchange", () => { route(); });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { clearTimeout(state.titleTimer); state.titleTimer = setTimeout(restoreTitle, 4000); }
  });
  $("notice").addEventListener("click", () => { $("notice").hidden = true; restoreTitle(); });
  document.addEventListener("keydown", (e) => {
    const typing = e.target instanceof HTMLElement && e.target.closest("input, select, textarea, [contenteditable]");
    if (e.key === "/" && !typing && !$("search-form").hidden) { e.preventDefault(); $("search-input").focus(); }
  });
}

async function afterLogin() {
  const wanted = readHash().get("case");
  const cases = await loadCases(wanted);
  await loadLimits();
  if (!wanted && cases.length === 1) { location.hash = hashFor({ case: cases[0].id }); return; }
  if (!wanted) $("case-panel").hidden = false;
  await route();
}

async function start() {
  wire();
  await loadStages();
  if (!(await checkLogin())) return;
  await afterLogin();
}

start();
