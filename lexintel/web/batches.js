// Batches of the case (multi-file uploads, ZIPs, chunked uploads) with their outcome: the newest 20 from
// GET /cases/{id}/batches on opening (so past ones survive a reload), then live from the case stream. A batch
// finishing while the page is open raises a notice and marks the tab's title.

import { $, STAGES, api, el, enc, formatDateTime, mb, num, plural, stageWords } from "./api.js";

const SHOWN = 20;

export function outcome(b) {
  const c = b.counts || {};
  if (b.status === "failed") {
    if (b.error_code === "duplicate") return b.error_message || "Already in this case; not processed again.";
    return b.error_message || b.message || "The batch stopped.";
  }
  if (b.status !== "completed") return b.message || "";
  const parts = [];
  if (c.indexed) parts.push(`${num(c.indexed)} ready`);
  if (c.failed) parts.push(`${num(c.failed)} failed`);
  if (c.skipped) parts.push(`${num(c.skipped)} skipped`);
  return `${plural(c.total || 0, "document")}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

export function title(b) {
  if (b.kind === "zip") return `ZIP ${b.filename}`;
  if (b.kind === "chunked") return b.filename || "Large file";
  return b.items_total ? `Upload of ${plural(b.items_total, "file")}` : "Upload of several files";
}

export class BatchList {
  constructor({ onFinished }) {
    this.caseId = null;
    this.items = new Map();  // batch id -> {data, li}
    this.onFinished = onFinished;
  }

  async open(caseId) {
    this.caseId = caseId;
    this.items.clear();
    $("batches").replaceChildren();
    this.updateEmpty();
    try {
      const list = await api(`/cases/${enc(caseId)}/batches?limit=${SHOWN}`);
      if (caseId !== this.caseId) return;
      for (const b of list.reverse()) this.upsert(b.id, b);
    } catch { /* an older server without the list: live batches still show */ }
  }

  updateEmpty() {
    $("batches-empty").hidden = this.items.size > 0;
  }

  upsert(id, data) {
    let item = this.items.get(id);
    if (!item) {
      const li = el("li", { className: "item batch" },
        el("div", { className: "head" }, el("span", { className: "name" }), el("span", { className: "badge" })),
        el("div", { className: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 },
          el("div", { className: "fill" })),
        el("p", { className: "doc-message" }), el("p", { className: "muted when" }));
      li.dataset.batchId = id;
      item = { data: {}, li };
      this.items.set(id, item);
      $("batches").prepend(li);
      while ($("batches").childElementCount > SHOWN) {
        const last = $("batches").lastElementChild;
        this.items.delete(last.dataset.batchId);
        last.remove();
      }
    }
    item.data = { ...item.data, ...data };
    this.render(item);
    this.updateEmpty();
    return item;
  }

  render(item) {
    const b = item.data;
    const li = item.li;
    const pct = Math.max(0, Math.min(100, Math.round(b.progress || 0)));
    // The badge names the stage, so it gives that stage's share: during a batch's own stage (a 300 MB upload is
    // mostly that) the overall bar holds only the stage's weight, and "Uploading · 5%" at half the bytes misleads.
    const own = STAGES.kinds[b.stage] === "batch" && typeof b.stage_progress === "number";
    const stagePct = own ? Math.max(0, Math.min(100, Math.round(b.stage_progress))) : pct;
    li.dataset.status = b.status;
    li.querySelector(".name").textContent = title(b);
    const badge = b.status === "completed" ? "Done" : b.status === "failed"
      ? (b.error_code === "duplicate" ? "Already in the case" : "Stopped") : `${stageWords(b.stage)} · ${stagePct}%`;
    li.querySelector(".badge").textContent = badge;
    const bar = li.querySelector(".bar");
    bar.hidden = b.status !== "processing";
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-label", `Progress of ${title(b)}`);
    const items = own && b.kind === "chunked" ? "parts" : "documents";
    bar.setAttribute("aria-valuetext", `${pct}%, ${b.items_done || 0} of ${b.items_total || 0} ${items}`);
    li.querySelector(".fill").style.width = `${pct}%`;
    li.querySelector(".doc-message").textContent = outcome(b);
    const when = b.finished_at ? `Finished ${formatDateTime(b.finished_at)}` : b.created_at
      ? `Started ${formatDateTime(b.created_at)}${b.bytes_total ? `, ${mb(b.bytes_total)}` : ""}` : "";
    li.querySelector(".when").textContent = when;
  }

  // A batch's own event from the case stream (no document id).
  applyEvent(ev, { history }) {
    const item = this.items.get(ev.batch_id);
    const terminal = ev.status === "completed" || ev.status === "failed";
    if (item && !terminal && (ev.progress || 0) < (item.data.progress || 0)) return;
    const data = { status: ev.status === "completed" ? "completed" : ev.status === "failed" ? "failed" : "processing",
      stage: ev.stage, progress: ev.progress, stage_progress: ev.stage_progress,
      message: ev.error ? ev.error.detail : ev.message, items_total: ev.items_total, items_done: ev.items_done };
    if (ev.error) data.error_code = ev.error.code;
    if (!item) data.created_at = ev.timestamp;
    this.upsert(ev.batch_id, data);
    if (terminal) this.finished(ev.batch_id, !history);
    else if (!item && !history) this.identify(ev.batch_id);
  }

  // A batch first seen live: events do not say its kind, so a chunked upload would read "Upload of 38 files"
  // (its parts) for as long as it is sending; its row names it (file name, size).
  async identify(id) {
    try {
      const full = await api(`/batches/${enc(id)}`);
      if (this.caseId !== full.case_id || !this.items.has(id)) return;
      const { kind, filename, bytes_total, created_at } = full;
      this.upsert(id, { kind, filename, bytes_total, created_at });
    } catch { /* deleted meanwhile */ }
  }

  async finished(id, live) {
    try {
      const full = await api(`/batches/${enc(id)}`);
      if (this.caseId !== full.case_id) return;
      const item = this.upsert(id, full);
      if (live) this.onFinished(item.data, `${title(item.data)} finished: ${outcome(item.data)}`);
    } catch { /* deleted meanwhile */ }
  }
}
