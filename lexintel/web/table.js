// The document table: one page of the case's documents at a time, sorted and filtered by the server
// (GET /cases/{id}/documents?limit&offset&sort&order&status&kind&name&since&until&min_pages), so 5,000 documents
// cost the browser what 50 do. Rows on the page follow the case stream live; events that can change which
// documents are on the page (a new document, a finished one, a deletion) refresh it, at most every 1.5 s.

import {
  $, ApiError, api, el, enc, formatDateTime, formatEta, hashFor, num, plural, say, stageWords, throttle,
} from "./api.js";

// Failures a second try cannot fix (the file itself is the problem): no "Try again" for them.
const RETRY_USELESS = new Set([
  "empty_file", "unsupported_type", "encrypted_pdf", "corrupt_pdf", "undecodable_text", "corrupt_document",
  "corrupt_image", "too_many_attachments", "too_large", "no_file", "duplicate",
]);
const KIND_WORDS = { pdf: "PDF", docx: "Word", text: "Text", html: "HTML", eml: "Email", png: "PNG image",
  jpeg: "JPEG image", tiff: "TIFF image", zip: "ZIP", unknown: "Unknown" };
const STATUS_WORDS = { pending: "Waiting", processing: "Working", indexed: "Ready", failed: "Failed",
  needs_ocr: "No text: needs OCR" };
const DEFAULT_ORDER = { created_at: "desc", filename: "asc", kind: "asc", status: "asc", pages: "desc" };
const POLL_AT_ONCE = 25;
const FIRST_ROWS = 50;
const SLICE_ROWS = 50;

export function isTerminal(status) { return status === "indexed" || status === "failed" || status === "needs_ocr"; }

export function canRetry(d) { return d.status === "failed" && !RETRY_USELESS.has(d.error_code || ""); }

function statusOfEvent(ev) {
  if (ev.status === "needs_ocr" || ev.stage === "needs_ocr") return "needs_ocr";
  if (ev.status === "completed") return "indexed";
  if (ev.status === "failed") return "failed";
  return ev.stage === "queued" ? "pending" : "processing";
}

export class DocumentTable {
  constructor({ onChange } = {}) {
    this.caseId = null;
    this.onChange = onChange || (() => {});
    this.query = { sort: "created_at", order: "desc", status: "", kind: "", name: "", since: "", until: "",
      min_pages: "", offset: 0, limit: 50 };
    this.rows = new Map();      // document id -> {data, tr}
    this.selected = new Map();  // document id -> filename (kept across pages)
    this.total = 0;
    this.generation = 0;
    this.renderGeneration = 0;
    this.refreshSoon = throttle(() => this.load(), 1500);
    this.countsSoon = throttle(() => this.loadCounts(), 2000);
    this.wire();
  }

  // ------------------------------------------------------------ loading
  open(caseId) {
    this.caseId = caseId;
    this.rows.clear();
    this.selected.clear();
    $("doc-rows").replaceChildren();
    this.query.offset = 0;
    this.refreshSoon.cancel();
    this.countsSoon.cancel();
    this.renderBulk();
  }

  params() {
    const q = this.query;
    const out = new URLSearchParams({ limit: q.limit, offset: q.offset, sort: q.sort, order: q.order });
    for (const key of ["status", "kind", "name", "since", "until", "min_pages"]) if (q[key] !== "") out.set(key, q[key]);
    return out;
  }

  filtered() {
    const q = this.query;
    return Boolean(q.status || q.kind || q.name || q.since || q.until || q.min_pages !== "");
  }

  async load() {
    if (!this.caseId) return;
    const generation = ++this.generation;
    const caseId = this.caseId;
    let answer;
    try {
      answer = await api(`/cases/${enc(caseId)}/documents?${this.params()}`, { raw: true });
    } catch (err) {
      if (generation === this.generation) say("bulk-message", err.message, "error");
      return;
    }
    if (generation !== this.generation || caseId !== this.caseId) return;
    this.total = Number(answer.headers.get("X-Total-Count")) || answer.body.length;
    if (this.query.offset > 0 && this.query.offset >= this.total) {  // the page emptied (deletions): step back
      this.query.offset = Math.max(0, Math.floor((this.total - 1) / this.query.limit) * this.query.limit);
      this.load();
      return;
    }
    this.render(answer.body);
    this.loadCounts();
  }

  async loadCounts() {
    if (!this.caseId) return;
    const caseId = this.caseId;
    try {
      const info = await api(`/cases/${enc(caseId)}`);
      if (caseId !== this.caseId) return;
      const by = info.documents_by_status || {};
      const all = Object.values(by).reduce((a, b) => a + b, 0);
      const parts = [];
      if (by.indexed) parts.push(`${num(by.indexed)} ready`);
      const active = (by.pending || 0) + (by.processing || 0);
      if (active) parts.push(`${num(active)} in progress`);
      if (by.failed) parts.push(`${num(by.failed)} failed`);
      if (by.needs_ocr) parts.push(`${num(by.needs_ocr)} need OCR`);
      $("docs-count").textContent = all ? `${plural(all, "document")}${parts.length ? `: ${parts.join(", ")}` : ""}` : "";
      this.onChange(info);
    } catch { /* the table itself says what went wrong */ }
  }

  // The first rows at once, the rest in slices of 50 on later tasks: 200 rows never make one long task.
  render(docs) {
    const generation = ++this.renderGeneration;
    const body = $("doc-rows");
    const old = this.rows;
    this.rows = new Map();
    const place = (slice) => {
      const fragment = document.createDocumentFragment();
      for (const doc of slice) {
        let row = old.get(doc.id);
        if (!row) row = { data: null, ...this.buildRow(doc.id) };
        row.data = this.merge(row.data, doc, "row") || row.data;
        this.rows.set(doc.id, row);
        this.renderRow(row);
        fragment.append(row.tr);
      }
      return fragment;
    };
    body.replaceChildren(place(docs.slice(0, FIRST_ROWS)));
    let next = FIRST_ROWS;
    const more = () => {
      if (generation !== this.renderGeneration) return;
      body.append(place(docs.slice(next, next + SLICE_ROWS)));
      next += SLICE_ROWS;
      if (next < docs.length) setTimeout(more, 0); else this.renderBulk();
    };
    if (next < docs.length) setTimeout(more, 0);
    const none = docs.length === 0;
    $("docs-empty").hidden = !none;
    $("docs-empty").textContent = this.filtered() ? "No documents match these filters."
      : "No documents yet: upload some with “Upload files” at the top, or drop them on this page.";
    this.renderPager();
    this.renderSort();
    this.renderBulk();
  }

  renderPager() {
    const { offset, limit } = this.query;
    const first = this.total ? offset + 1 : 0;
    const last = Math.min(offset + limit, this.total);
    $("pager-text").textContent = this.total ? `${num(first)}–${num(last)} of ${num(this.total)}` : "";
    $("page-first").disabled = $("page-back").disabled = offset === 0;
    $("page-fwd").disabled = $("page-last").disabled = offset + limit >= this.total;
  }

  renderSort() {
    for (const th of document.querySelectorAll("#doc-table th[data-sort]")) {
      const on = th.dataset.sort === this.query.sort;
      th.setAttribute("aria-sort", on ? (this.query.order === "asc" ? "ascending" : "descending") : "none");
    }
  }

  // ------------------------------------------------------------ one row
  // A row's elements, kept so redrawing it (for every event) touches only what changed, with no lookups.
  buildRow(id) {
    const tr = el("tr", { className: "doc" });
    tr.dataset.documentId = id;
    const c = {
      check: el("input", { type: "checkbox", className: "pick" }),
      name: el("span", { className: "name" }),
      note: el("p", { className: "doc-note" }),
      kind: el("td", { className: "col-kind" }),
      badge: el("span", { className: "badge" }),
      fill: el("div", { className: "fill" }),
      detail: el("p", { className: "detail" }),
      error: el("p", { className: "doc-error" }),
      num: el("td", { className: "col-num" }),
      date: el("td", { className: "col-date" }),
      actions: el("span", { className: "actions" }),
      message: el("p", { className: "row-message", role: "status" }),
    };
    c.bar = el("div", { className: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 }, c.fill);
    c.nameCell = el("td", { className: "col-name" }, c.name, c.note);
    c.check.addEventListener("change", () => {
      const row = this.rows.get(id);
      if (c.check.checked) this.selected.set(id, row ? row.data.filename : id); else this.selected.delete(id);
      this.renderBulk();
    });
    tr.append(el("td", { className: "col-check" }, c.check), c.nameCell, c.kind,
      el("td", { className: "col-status" }, c.badge, c.bar, c.detail, c.error), c.num, c.date,
      el("td", { className: "col-actions" }, c.actions, c.message));
    return { tr, c, shown: {} };
  }

  // One function for the three sources of truth (list rows, stream events, polled statuses), so they agree.
  // A stale update (older run, lower progress, or not finished after finished in the same run) gives null.
  merge(cur, src, source) {
    const event = source === "event";
    const next = {
      ...(cur || {}),
      id: src.id || src.document_id,
      run: Number(src.run) || (cur ? cur.run : 1),
      status: event ? statusOfEvent(src) : src.status,
      stage: src.stage || "queued",
      progress: Number(src.progress) || 0,
      message: src.message || "",
      eta: event ? src.eta_seconds : null,
      error_code: event ? (src.error ? src.error.code : null) : src.error_code,
      error_message: event ? (src.error ? src.error.detail : null) : src.error_message,
    };
    if (src.filename) next.filename = src.filename;
    for (const key of ["kind", "created_at", "size_bytes", "chunks", "batch_id"]) if (src[key] !== undefined) next[key] = src[key];
    if (!event) next.pages_total = src.pages_total;
    else if (src.items_total && (src.stage === "extracting" || src.stage === "ocr")) next.pages_total = src.items_total;
    if (cur) {
      if (next.run < cur.run) return null;
      if (next.run === cur.run) {
        if (isTerminal(cur.status) && !isTerminal(next.status)) return null;
        if (!isTerminal(next.status) && next.progress < cur.progress) return null;
      }
    }
    return next;
  }

  renderRow(row) {
    const d = row.data;
    const { c, tr } = row;
    const set = (key, node, text) => {  // write only what changed: most events move one number
      if (row.shown[key] !== text) { row.shown[key] = text; node.textContent = text; }
    };
    const pct = Math.max(0, Math.min(100, Math.round(d.progress)));
    const filename = d.filename || "(unnamed file)";
    if (tr.dataset.status !== d.status) tr.dataset.status = d.status;
    c.check.checked = this.selected.has(d.id);
    if (row.shown.label !== filename) c.check.setAttribute("aria-label", `Select ${filename}`);
    const wantLink = d.status === "indexed" || d.status === "needs_ocr" || Boolean(d.pages_total && d.status !== "failed");
    if ((c.name.tagName === "A") !== wantLink) {
      const replacement = wantLink ? el("a", { className: "name" }) : el("span", { className: "name" });
      c.name.replaceWith(replacement);
      c.name = replacement;
      row.shown.name = null;
    }
    set("name", c.name, filename);
    if (wantLink && !c.name.getAttribute("href")) c.name.href = hashFor({ case: this.caseId, doc: d.id, page: 1 });
    set("kind", c.kind, KIND_WORDS[d.kind] || d.kind || "");
    set("badge", c.badge, STATUS_WORDS[d.status] || d.status);
    const working = !isTerminal(d.status);
    c.bar.hidden = !working;
    if (working && row.shown.pct !== pct) {
      row.shown.pct = pct;
      c.bar.setAttribute("aria-valuenow", String(pct));
      c.bar.setAttribute("aria-valuetext", `${pct}%, ${stageWords(d.stage)}`);
      c.bar.setAttribute("aria-label", `Progress of ${filename}`);
      c.fill.style.width = `${pct}%`;
    }
    let detail = "";
    if (working) {
      detail = [stageWords(d.stage), `${pct}%`, formatEta(d.eta)].filter(Boolean).join(" · ");
    } else if (d.status === "indexed") {
      const parts = [];
      if (d.pages_total) parts.push(plural(d.pages_total, "page"));
      if (d.chunks) parts.push(plural(d.chunks, "passage"));
      detail = parts.join(", ");
    } else if (d.status === "needs_ocr") {
      detail = d.message || "Some pages have no text layer and were not read by OCR.";
    }
    set("detail", c.detail, detail);
    set("error", c.error, d.status === "failed" ? (d.error_message || d.message || "Processing failed.") : "");
    set("note", c.note, working && d.message ? d.message : "");
    set("num", c.num, d.pages_total ? num(d.pages_total) : "—");
    set("date", c.date, formatDateTime(d.created_at));
    const retryable = canRetry(d);
    if (row.shown.retry !== retryable) {
      row.shown.retry = retryable;
      c.actions.replaceChildren();
      if (retryable) {
        const retry = el("button", { type: "button", className: "retry secondary" }, "Try again");
        retry.setAttribute("aria-label", `Try ${filename} again`);
        retry.addEventListener("click", () => this.retry([d.id]));
        c.actions.append(retry);
      }
    }
  }

  rowMessage(id, text, kind = "") {
    const row = this.rows.get(id);
    if (row) say(row.c.message, text, kind);
  }

  // ------------------------------------------------------------ live updates
  applyEvent(ev) {
    const id = ev.document_id;
    const row = this.rows.get(id);
    const terminal = ev.status === "completed" || ev.status === "failed";
    if (row) {
      const next = this.merge(row.data, ev, "event");
      if (next) {
        row.data = next;
        this.renderRow(row);
      }
      if (terminal) this.refreshRow(id);
    }
    // Can the page's membership or order change? A new document may belong on it; a finished one may join or
    // leave a page filtered or sorted by status or pages.
    const byOutcome = Boolean(this.query.status || this.query.min_pages !== "") || ["status", "pages"].includes(this.query.sort);
    if ((!row && ev.stage === "queued" && ev.run <= 1) || (terminal && byOutcome)) this.refreshSoon();
    if (terminal || ev.stage === "queued") this.countsSoon();
  }

  async refreshRow(id) {
    try {
      const doc = await api(`/documents/${enc(id)}`);
      const row = this.rows.get(id);
      if (!row) return;
      const next = this.merge(row.data, doc, "row");
      if (next) { row.data = next; this.renderRow(row); }
    } catch { /* deleted meanwhile: its notice removes the row */ }
  }

  removeDocument(id) {
    const row = this.rows.get(id);
    this.selected.delete(id);
    if (row) {
      row.tr.remove();
      this.rows.delete(id);
    }
    this.renderBulk();
    this.refreshSoon();
    this.countsSoon();
  }

  // While the stream is down: poll the unfinished rows on this page.
  async pollVisible() {
    const open = [...this.rows.values()].filter((r) => !isTerminal(r.data.status)).slice(0, POLL_AT_ONCE);
    for (const row of open) {
      try {
        const status = await api(`/documents/${enc(row.data.id)}/status`);
        const next = this.merge(row.data, status, "poll");
        if (next && this.rows.get(row.data.id) === row) { row.data = next; this.renderRow(row); }
      } catch {
        return;  // still down
      }
    }
  }

  // ------------------------------------------------------------ actions
  async retry(ids) {
    let tried = 0;
    let refused = 0;
    for (const id of ids) {
      const row = this.rows.get(id);
      if (row && !canRetry(row.data)) { refused += 1; continue; }
      try {
        await api(`/documents/${enc(id)}/retry`, { method: "POST" });
        tried += 1;
        this.rowMessage(id, "Trying again…", "ok");
      } catch (err) {
        refused += 1;
        this.rowMessage(id, err.message, "error");
      }
    }
    if (ids.length > 1 || refused) {
      const parts = [];
      if (tried) parts.push(`Trying ${plural(tried, "document")} again.`);
      if (refused) parts.push(`${plural(refused, "document")} cannot be helped by trying again.`);
      say("bulk-message", parts.join(" "), refused && !tried ? "error" : "ok");
    }
  }

  async deleteSelected() {
    const ids = [...this.selected.keys()];
    let done = 0;
    let failed = 0;
    say("bulk-message", `Deleting ${plural(ids.length, "document")}…`);
    const queue = [...ids];
    const worker = async () => {
      while (queue.length) {
        const id = queue.shift();
        try {
          await api(`/documents/${enc(id)}`, { method: "DELETE" });
          done += 1;
          this.removeDocument(id);
        } catch (err) {
          if (err instanceof ApiError && err.status === 404) { done += 1; this.removeDocument(id); continue; }
          failed += 1;
          this.rowMessage(id, err.message, "error");
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    say("bulk-message", `Deleted ${plural(done, "document")}.${failed ? ` ${plural(failed, "document")} could not be deleted.` : ""}`,
      failed ? "error" : "ok");
  }

  renderBulk() {
    const n = this.selected.size;
    $("bulk").hidden = n === 0;
    if (n === 0) $("bulk-confirm").hidden = true;
    $("bulk-count").textContent = `${plural(n, "document")} selected`;
    const visible = [...this.rows.keys()];
    const all = $("select-page");
    const picked = visible.filter((id) => this.selected.has(id)).length;
    all.checked = visible.length > 0 && picked === visible.length;
    all.indeterminate = picked > 0 && picked < visible.length;
  }

  // ------------------------------------------------------------ controls
  wire() {
    const reload = () => { this.query.offset = 0; this.load(); };
    let typing = null;
    const field = (id, key) => {
      const input = $(id);
      input.addEventListener("input", () => {
        clearTimeout(typing);
        typing = setTimeout(() => { this.query[key] = input.value.trim(); reload(); }, 300);
      });
      input.addEventListener("change", () => {
        clearTimeout(typing);
        if (this.query[key] !== input.value.trim()) { this.query[key] = input.value.trim(); reload(); }
      });
    };
    field("filter-name", "name");
    field("filter-status", "status");
    field("filter-kind", "kind");
    field("filter-since", "since");
    field("filter-until", "until");
    field("filter-pages", "min_pages");
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("filter-clear").addEventListener("click", () => {
      for (const id of ["filter-name", "filter-status", "filter-kind", "filter-since", "filter-until", "filter-pages"]) $(id).value = "";
      Object.assign(this.query, { status: "", kind: "", name: "", since: "", until: "", min_pages: "" });
      reload();
    });
    for (const th of document.querySelectorAll("#doc-table th[data-sort]")) {
      th.querySelector("button").addEventListener("click", () => {
        const key = th.dataset.sort;
        if (this.query.sort === key) this.query.order = this.query.order === "asc" ? "desc" : "asc";
        else { this.query.sort = key; this.query.order = DEFAULT_ORDER[key] || "asc"; }
        reload();
      });
    }
    const go = (offset) => { this.query.offset = Math.max(0, offset); this.load(); };
    $("page-first").addEventListener("click", () => go(0));
    $("page-back").addEventListener("click", () => go(this.query.offset - this.query.limit));
    $("page-fwd").addEventListener("click", () => go(this.query.offset + this.query.limit));
    $("page-last").addEventListener("click", () => go(Math.floor((this.total - 1) / this.query.limit) * this.query.limit));
    $("page-size").addEventListener("change", () => { this.query.limit = Number($("page-size").value) || 50; reload(); });
    $("select-page").addEventListener("change", () => {
      const on = $("select-page").checked;
      for (const [id, row] of this.rows) {
        if (on) this.selected.set(id, row.data.filename); else this.selected.delete(id);
        row.c.check.checked = on;
      }
      this.renderBulk();
    });
    $("bulk-clear").addEventListener("click", () => {
      this.selected.clear();
      for (const row of this.rows.values()) row.c.check.checked = false;
      this.renderBulk();
    });
    $("bulk-retry").addEventListener("click", () => this.retry([...this.selected.keys()]));
    $("bulk-delete").addEventListener("click", () => {
      const names = [...this.selected.values()];
      const shown = names.slice(0, 3).join(", ") + (names.length > 3 ? ` and ${plural(names.length - 3, "other")}` : "");
      $("bulk-confirm-text").textContent = `Delete ${plural(names.length, "document")} (${shown}) with their text `
        + "and files? This cannot be undone.";
      $("bulk-confirm").hidden = false;
      $("bulk-confirm-no").focus();
    });
    $("bulk-confirm-no").addEventListener("click", () => { $("bulk-confirm").hidden = true; $("bulk-delete").focus(); });
    $("bulk-confirm-yes").addEventListener("click", async () => {
      $("bulk-confirm").hidden = true;
      await this.deleteSelected();
      $("docs-heading").focus();
    });
  }
}
