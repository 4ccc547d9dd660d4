// LexIntel's page: cases, uploads, live progress over ONE EventSource per case, activity log, text, search.
// No framework and no build step. The DOM is built with textContent only (never innerHTML), so file names and
// messages cannot inject markup; search snippets are copied node by node, keeping only text and <mark>.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const POLL_MS = 2000;
  const POLL_BATCH = 25;
  const LOG_LIMIT = 400;
  // The stage registry (GET /stages, fetched at start): a stage's words, and what its items count.
  const STAGE_WORDS = Object.create(null);
  const STAGE_UNITS = Object.create(null);

  const state = {
    caseId: null,
    caseName: "",
    generation: 0,       // bumps on every case switch, so late answers for an old case are dropped
    es: null,            // the case's one EventSource
    lastId: 0,           // newest case-stream event id applied: de-duplicates replays after reconnects
    docs: new Map(),     // document id -> {data, el}
    batches: new Map(),  // batch id -> {data, el}
    pollTimer: null,
    reopenTimer: null,
    reopenDelay: 1000,
    readerDoc: null,
    csrf: null,          // X-CSRF-Token of a cookie session (auth on); EventSource sends the cookie itself
  };

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function api(path, options = {}) {
    let resp;
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (state.csrf && options.method && options.method !== "GET") headers["X-CSRF-Token"] = state.csrf;
    try {
      resp = await fetch(path, { ...options, headers });
    } catch {
      throw new ApiError("The server cannot be reached. Check your connection and try again.", 0);
    }
    if (resp.status === 204) return null;
    let body = null;
    try { body = await resp.json(); } catch { body = null; }
    if (resp.status === 401 && !path.startsWith("/auth/")) showLogin("Your session has ended: log in again.");
    if (!resp.ok) {
      const detail = body && typeof body.detail === "string" ? body.detail : `The server answered ${resp.status}.`;
      throw new ApiError(detail, resp.status);
    }
    return body;
  }

  // DOM helper: el("p", {className: "x", "aria-label": "y"}, child, "text", ...)
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key in node && !key.includes("-")) node[key] = value; else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function say(id, text, kind = "") {
    const node = $(id);
    node.textContent = text;
    node.dataset.kind = kind;
  }

  function setConnection(kind, text) {
    const node = $("connection");
    node.dataset.state = kind;
    node.textContent = text;
  }

  function formatEta(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
    if (seconds < 1) return "almost done";
    if (seconds < 90) return `about ${Math.round(seconds)} s left`;
    return `about ${Math.round(seconds / 60)} min left`;
  }

  function formatTime(iso) {
    const date = iso ? new Date(iso) : new Date();
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString();
  }

  // ---------------------------------------------------------------- login (when the server has auth on)
  function showLogin(text = "") {
    closeStream();
    stopPolling();
    state.caseId = null;
    $("login").hidden = false;
    $("case-panel").hidden = true;
    $("workspace").hidden = true;
    $("who").hidden = true;
    setConnection("idle", "Not logged in");
    say("login-message", text, text ? "error" : "");
    $("login-user").focus();
  }

  function showApp(me) {
    state.csrf = me ? me.csrf_token : null;
    $("login").hidden = true;
    $("case-panel").hidden = false;
    const named = me && me.auth === "on";
    $("who").hidden = !named;
    $("who-name").textContent = named ? me.user.username || me.user.name || "" : "";
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
      const body = await api("/auth/login", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password }),
      });
      $("login-password").value = "";
      showApp({ ...body, auth: "on" });
      say("login-message", "");
      await loadCases(readHash().get("case"));
      await route();
    } catch (err) {
      say("login-message", err.message, "error");
    }
  }

  async function logout() {
    try { await api("/auth/logout", { method: "POST" }); } catch { /* the session is gone either way */ }
    state.csrf = null;
    history.replaceState(null, "", location.pathname);
    showLogin("You are logged out.");
  }

  // ---------------------------------------------------------------- routing (#case=…&doc=…&page=…)
  function readHash() {
    return new URLSearchParams(location.hash.slice(1));
  }

  function hashFor(params) {
    const out = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) out.set(k, String(v));
    return `#${out.toString()}`;
  }

  async function route() {
    const params = readHash();
    const caseId = params.get("case");
    if (!caseId) return;
    if (caseId !== state.caseId) await openCase(caseId);
    const docId = params.get("doc");
    if (docId) await showText(docId, Number(params.get("page")) || null);
  }

  // ---------------------------------------------------------------- cases
  async function loadCases(selectId) {
    const select = $("case-select");
    try {
      const cases = await api("/cases");
      select.replaceChildren(el("option", { value: "" }, "Choose a case…"));
      for (const c of cases) select.append(el("option", { value: c.id, selected: c.id === selectId }, c.name));
    } catch (err) {
      say("case-message", err.message, "error");
    }
  }

  async function createCase(name) {
    try {
      const created = await api("/cases", {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ name }),
      });
      say("case-message", `Created case “${created.name}”.`, "ok");
      $("case-name").value = "";
      await loadCases(created.id);
      location.hash = hashFor({ case: created.id });
    } catch (err) {
      say("case-message", err.message, "error");
    }
  }

  async function openCase(caseId) {
    closeStream();
    stopPolling();
    const generation = ++state.generation;
    state.caseId = caseId;
    state.lastId = 0;
    state.docs.clear();
    state.batches.clear();
    state.readerDoc = null;
    $("documents").replaceChildren();
    $("batches").replaceChildren();
    $("activity").replaceChildren();
    $("hits").replaceChildren();
    $("reader").hidden = true;
    say("search-message", "");
    say("upload-message", "");
    setConnection("connecting", "Loading case…");
    let info;
    let docs;
    try {
      // The case's newest event id first, then the statuses: every event after that id comes on the stream
      // (one that landed in between is applied twice, harmlessly: state updates are idempotent).
      info = await api(`/cases/${enc(caseId)}`);
      docs = await api(`/cases/${enc(caseId)}/documents`);
    } catch (err) {
      if (generation !== state.generation) return;
      state.caseId = null;
      setConnection("idle", "No case open");
      say("case-message", err.message, "error");
      $("workspace").hidden = true;
      return;
    }
    if (generation !== state.generation) return;
    state.caseName = info.name;
    $("case-title").textContent = info.name;
    $("case-select").value = caseId;
    say("case-message", "");
    $("workspace").hidden = false;
    for (const row of docs) applyDocState(row.id, row, "row");
    updateEmpty();
    state.lastId = Number(info.last_event_id) || 0;
    openStream();
  }

  // ---------------------------------------------------------------- the case stream
  function openStream() {
    clearTimeout(state.reopenTimer);
    const es = new EventSource(`/cases/${enc(state.caseId)}/stream?last_event_id=${state.lastId}`);
    state.es = es;
    setConnection("connecting", "Connecting…");
    es.addEventListener("open", () => {
      if (es !== state.es) return;
      state.reopenDelay = 1000;
      stopPolling();
      setConnection("live", "Live");
    });
    es.addEventListener("progress", (e) => onStreamEvent(es, e));
    es.addEventListener("reset", () => {
      // Our cursor is not in the server's log (pruned or a different database): start again from its state.
      if (es === state.es) openCase(state.caseId);
    });
    es.addEventListener("error", () => onStreamError(es));
  }

  function closeStream() {
    clearTimeout(state.reopenTimer);
    if (state.es) state.es.close();
    state.es = null;
  }

  function onStreamEvent(es, e) {
    if (es !== state.es) return;
    const id = Number(e.lastEventId);
    if (!Number.isInteger(id) || id <= state.lastId) return;  // already shown (replay after a reconnect)
    state.lastId = id;
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    if (ev.document_id) applyDocState(ev.document_id, ev, "event");
    else if (ev.batch_id) applyBatchEvent(ev);
    logEvent(id, ev);
    updateEmpty();
  }

  function onStreamError(es) {
    if (es !== state.es) return;
    setConnection("down", "Connection lost: showing polled status while reconnecting…");
    startPolling();
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. an error status while the server restarts): reopen from our own cursor.
      es.close();
      clearTimeout(state.reopenTimer);
      state.reopenTimer = setTimeout(() => { if (es === state.es) openStream(); }, state.reopenDelay);
      state.reopenDelay = Math.min(state.reopenDelay * 2, 30000);
    }
  }

  // ---------------------------------------------------------------- polling fallback while the stream is down
  function startPolling() {
    if (state.pollTimer) return;
    state.pollTimer = setInterval(pollOnce, POLL_MS);
    pollOnce();
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  async function pollOnce() {
    const generation = state.generation;
    // At most POLL_BATCH status requests per tick, the oldest unfinished first: a big batch must not flood.
    const open = [...state.docs.values()].filter((d) => !isTerminal(d.data.status)).map((d) => d.data.id)
      .slice(0, POLL_BATCH);
    for (const id of open) {
      try {
        const status = await api(`/documents/${enc(id)}/status`);
        if (generation !== state.generation || !state.pollTimer) return;
        applyDocState(id, status, "poll");
      } catch {
        return;  // still down; try again on the next tick
      }
    }
  }

  // ---------------------------------------------------------------- documents
  function isTerminal(status) { return status === "indexed" || status === "failed"; }

  function statusOfEvent(ev) {
    if (ev.status === "completed") return "indexed";
    if (ev.status === "failed") return "failed";
    return ev.stage === "queued" ? "pending" : "processing";
  }

  // One function for the three sources of truth (list rows, stream events, polled statuses), so they agree.
  // A stale update (older run, lower progress, or non-terminal after terminal in the same run) is ignored.
  function applyDocState(id, src, source) {
    const next = {
      id,
      filename: src.filename || "(unnamed file)",
      batch_id: src.batch_id || null,
      run: Number(src.run) || 1,
      status: source === "event" ? statusOfEvent(src) : src.status,
      stage: src.stage || "queued",
      progress: Number(src.progress) || 0,
      message: src.message || "",
      eta: source === "event" ? src.eta_seconds : null,
      error: source === "event" ? (src.error ? src.error.detail : null) : src.error_message,
      // An event's items are pages only in a stage whose unit is pages (passages while indexing).
      pagesTotal: source !== "event" ? src.pages_total : STAGE_UNITS[src.stage] === "pages" ? src.items_total : null,
    };
    let doc = state.docs.get(id);
    if (doc) {
      const cur = doc.data;
      if (next.run < cur.run) return;
      if (next.run === cur.run) {
        if (isTerminal(cur.status) && !isTerminal(next.status)) return;
        if (!isTerminal(next.status) && next.progress < cur.progress) return;
      }
      if (!src.filename) next.filename = cur.filename;
      if (!next.pagesTotal) next.pagesTotal = cur.pagesTotal;
    } else {
      doc = { data: next, el: buildDoc(id) };
      state.docs.set(id, doc);
      $("documents").append(doc.el);
    }
    doc.data = next;
    renderDoc(doc);
  }

  function buildDoc(id) {
    const li = el("li", { className: "item doc" });
    li.dataset.documentId = id;
    const name = el("span", { className: "name" });
    const badge = el("span", { className: "badge" });
    const fill = el("div", { className: "fill" });
    const bar = el("div", { className: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 }, fill);
    const stage = el("span", { className: "stage" });
    const pct = el("span", { className: "pct" });
    const eta = el("span", { className: "eta" });
    const message = el("p", { className: "doc-message" });
    const error = el("p", { className: "doc-error" });
    const actions = el("p", { className: "actions" });
    li.append(el("div", { className: "head" }, name, badge), bar, el("p", { className: "detail" }, stage, pct, eta),
      message, error, actions);
    return li;
  }

  function renderDoc(doc) {
    const d = doc.data;
    const li = doc.el;
    const q = (sel) => li.querySelector(sel);
    const pct = Math.max(0, Math.min(100, Math.round(d.progress)));
    li.dataset.status = d.status;
    q(".name").textContent = d.filename;
    q(".badge").textContent = { pending: "Waiting", processing: "Working", indexed: "Ready", failed: "Failed" }[d.status]
      || d.status;
    const bar = q(".bar");
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", `${pct}%, ${STAGE_WORDS[d.stage] || d.stage}`);
    bar.setAttribute("aria-label", `Progress of ${d.filename}`);
    q(".fill").style.width = `${pct}%`;
    q(".stage").textContent = STAGE_WORDS[d.stage] || d.stage;
    q(".pct").textContent = `${pct}%`;
    q(".eta").textContent = isTerminal(d.status) ? "" : formatEta(d.eta);
    q(".doc-message").textContent = d.status === "failed" ? "" : d.message;
    q(".doc-error").textContent = d.status === "failed" ? (d.error || d.message || "Processing failed.") : "";
    const actions = q(".actions");
    actions.replaceChildren();
    if (d.status === "indexed") {
      const pages = d.pagesTotal ? ` (${d.pagesTotal} page${d.pagesTotal === 1 ? "" : "s"})` : "";
      actions.append(el("a", { className: "read", href: hashFor({ case: state.caseId, doc: d.id, page: 1 }) },
        `Read the text${pages}`));
    } else if (d.status === "failed") {
      const retry = el("button", { type: "button", className: "retry" }, "Try again");
      retry.addEventListener("click", () => retryDoc(d.id, d.filename));
      actions.append(retry);
    }
  }

  async function retryDoc(id, filename) {
    try {
      await api(`/documents/${enc(id)}/retry`, { method: "POST" });
      say("upload-message", `Trying ${filename} again…`, "ok");
    } catch (err) {
      say("upload-message", `${filename}: ${err.message}`, "error");
    }
  }

  function updateEmpty() {
    $("docs-empty").hidden = state.docs.size > 0 || state.batches.size > 0;
  }

  // ---------------------------------------------------------------- batches
  function applyBatchEvent(ev) {
    let batch = state.batches.get(ev.batch_id);
    if (!batch) {
      const fill = el("div", { className: "fill" });
      const li = el("li", { className: "item batch" },
        el("div", { className: "head" }, el("span", { className: "name" }, "Batch upload"), el("span", { className: "badge" })),
        el("div", { className: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
          "aria-label": "Batch progress" }, fill),
        el("p", { className: "doc-message" }));
      li.dataset.batchId = ev.batch_id;
      batch = { el: li, progress: -1 };
      state.batches.set(ev.batch_id, batch);
      $("batches").append(li);
    }
    const terminal = ev.status === "completed" || ev.status === "failed";
    if (!terminal && ev.progress < batch.progress) return;
    batch.progress = ev.progress;
    const pct = Math.max(0, Math.min(100, Math.round(ev.progress)));
    const li = batch.el;
    li.dataset.status = ev.status;
    const bar = li.querySelector(".bar");
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", `${pct}%, ${ev.items_done} of ${ev.items_total} documents`);
    li.querySelector(".fill").style.width = `${pct}%`;
    li.querySelector(".badge").textContent = `${ev.items_done}/${ev.items_total} · ${pct}%`;
    li.querySelector(".doc-message").textContent = ev.error ? ev.error.detail : ev.message;
  }

  // ---------------------------------------------------------------- activity log
  function logEvent(id, ev) {
    const log = $("activity");
    const kind = ev.status === "failed" ? "error" : ev.status === "completed" ? "ok" : "";
    const text = ev.error && ev.error.detail && !String(ev.message).includes(ev.error.detail)
      ? `${ev.message} (${ev.error.detail})` : ev.message;
    const li = el("li", { className: kind }, el("time", { dateTime: ev.timestamp || "" }, formatTime(ev.timestamp)), " ",
      text);
    li.dataset.eventId = String(id);
    log.append(li);
    while (log.childElementCount > LOG_LIMIT) log.firstElementChild.remove();
  }

  // ---------------------------------------------------------------- upload
  function upload(fileList) {
    const files = Array.from(fileList || []);
    if (!files.length || !state.caseId) return;
    const caseId = state.caseId;
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    const label = files.length === 1 ? files[0].name : `${files.length} files`;
    say("upload-message", `Uploading ${label}…`);
    // XMLHttpRequest rather than fetch: it reports upload progress for big files.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/cases/${enc(caseId)}/documents`);
    xhr.setRequestHeader("Accept", "application/json");
    if (state.csrf) xhr.setRequestHeader("X-CSRF-Token", state.csrf);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) say("upload-message", `Uploading ${label}… ${Math.round((100 * e.loaded) / e.total)}%`);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status !== 202 || !body) {
        const detail = body && body.detail ? body.detail : `The server answered ${xhr.status}.`;
        say("upload-message", `${label} was not accepted: ${detail}`, "error");
        return;
      }
      if (caseId !== state.caseId) return;
      for (const d of body.documents) {
        if (!state.docs.has(d.id)) applyDocState(d.id, { ...d, batch_id: body.batch_id, run: 1 }, "row");
      }
      updateEmpty();
      const refused = body.documents.filter((d) => d.status === "failed").length;
      say("upload-message", `Uploaded ${label}.` + (refused ? ` ${refused} could not be processed (see below).` : ""),
        refused ? "error" : "ok");
    });
    xhr.addEventListener("error", () => {
      say("upload-message", `${label} could not be sent: the server cannot be reached.`, "error");
    });
    xhr.send(form);
  }

  // ---------------------------------------------------------------- text reader
  async function showText(docId, page) {
    const reader = $("reader");
    const pagesBox = $("reader-pages");
    if (state.readerDoc !== docId) {
      try {
        const text = await api(`/documents/${enc(docId)}/text`);
        state.readerDoc = docId;
        $("reader-heading").textContent = `Text of ${text.filename}`;
        const nav = el("nav", { className: "pagenav", "aria-label": "Pages" });
        const articles = [];
        for (const p of text.pages) {
          nav.append(el("a", { href: hashFor({ case: state.caseId, doc: docId, page: p.page }) }, `Page ${p.page}`));
          articles.push(el("article", { className: "page", id: `page-${p.page}` },
            el("h3", { tabIndex: -1 }, `Page ${p.page}`), el("pre", {}, p.text || "(no text on this page)")));
        }
        if (!text.pages.length) articles.push(el("p", { className: "muted" }, "No text yet."));
        pagesBox.replaceChildren(nav, ...articles);
      } catch (err) {
        say("search-message", err.message, "error");
        return;
      }
    }
    reader.hidden = false;
    const target = page ? document.getElementById(`page-${page}`) : null;
    const focus = target ? target.querySelector("h3") : $("reader-heading");
    focus.scrollIntoView({ block: "start" });
    focus.focus({ preventScroll: true });
  }

  // ---------------------------------------------------------------- search
  // snippet_html is escaped by the server with <mark> around matches; copy only text and <mark> anyway.
  function snippetNodes(html) {
    const parsed = new DOMParser().parseFromString(`<p>${html}</p>`, "text/html");
    const out = [];
    for (const node of parsed.body.firstChild ? parsed.body.firstChild.childNodes : []) {
      if (node.nodeType === Node.TEXT_NODE) out.push(node.textContent);
      else if (node.nodeName === "MARK") out.push(el("mark", {}, node.textContent));
      else out.push(node.textContent);
    }
    return out;
  }

  async function search(q) {
    const hits = $("hits");
    hits.replaceChildren();
    say("search-message", "Searching…");
    try {
      const body = await api(`/search?q=${enc(q)}&case_id=${enc(state.caseId)}`);
      const n = body.hits.length;
      say("search-message", n ? `${n} hit${n === 1 ? "" : "s"}.` : "No hits.", n ? "ok" : "");
      for (const h of body.hits) {
        hits.append(el("li", { className: "hit" },
          el("a", { href: hashFor({ case: state.caseId, doc: h.document_id, page: h.page }) },
            `${h.filename}, page ${h.page}`),
          el("p", { className: "snippet" }, ...snippetNodes(h.snippet_html))));
      }
    } catch (err) {
      say("search-message", err.message, "error");
    }
  }

  // ---------------------------------------------------------------- wiring
  function wire() {
    $("open-case").addEventListener("submit", (e) => {
      e.preventDefault();
      const id = $("case-select").value;
      if (id) location.hash = hashFor({ case: id });
      else say("case-message", "Choose a case from the list first.", "error");
    });
    $("new-case").addEventListener("submit", (e) => {
      e.preventDefault();
      const name = $("case-name").value.trim();
      if (name) createCase(name);
    });
    const input = $("file-input");
    input.addEventListener("change", () => { upload(input.files); input.value = ""; });
    const zone = $("dropzone");
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("over"); });
    }
    for (const type of ["dragleave", "drop"]) {
      zone.addEventListener(type, () => zone.classList.remove("over"));
    }
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      if (e.dataTransfer) upload(e.dataTransfer.files);
    });
    $("search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const q = $("search-input").value.trim();
      if (q && state.caseId) search(q);
    });
    $("reader-close").addEventListener("click", () => {
      $("reader").hidden = true;
      history.replaceState(null, "", hashFor({ case: state.caseId }));
      $("search-input").focus();
    });
    $("login-form").addEventListener("submit", (e) => {
      e.preventDefault();
      login($("login-user").value.trim(), $("login-password").value);
    });
    $("logout").addEventListener("click", logout);
    window.addEventListener("hashchange", () => { route(); });
  }

  async function loadStages() {
    try {
      const body = await api("/stages");
      for (const stage of body.stages) {
        STAGE_WORDS[stage.name] = stage.words;
        STAGE_UNITS[stage.name] = stage.unit;
      }
    } catch { /* without the registry a stage shows its name */ }
  }

  async function start() {
    wire();
    await loadStages();
    if (!(await checkLogin())) return;
    await loadCases(readHash().get("case"));
    await route();
  }

  start();
})();
