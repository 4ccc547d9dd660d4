// Uploads from the page, planned before anything is sent (sizes in MB, from GET /web/limits):
// - small files go together in multipart requests (at most 200 files / 50 MB each, under the server's limit);
// - a ZIP (recognised by its first bytes, as the server does) always goes alone, so the server unpacks it;
// - a file above one request's limit goes through the resumable chunked upload (POST /cases/{id}/uploads, PUT
//   each chunk, POST …/complete): a dropped connection is waited out and only the chunks the server lacks are
//   sent again; the session is remembered in localStorage, so choosing the same file again after a reload
//   continues it;
// - files already in the case (same bytes) are not processed again: the answer names the existing document,
//   shown with a link to it and a "Process it anyway" button (?duplicates=allow).

import { $, ApiError, api, el, enc, hashFor, mb, plural, say, session } from "./api.js";

const FILES_PER_REQUEST = 200;
const BYTES_PER_REQUEST = 50 * 1048576;
const CHUNK_BYTES = 8 * 1048576;
const MAX_BACKOFF_MS = 15000;
const ASSEMBLING_POLL_MS = 1000;
const GIVE_UP_AFTER = 12;  // failed attempts in a row before the upload waits for "Resume"

let limits = { max_request_bytes: 200 * 1048576, max_file_bytes: 200 * 1048576, max_files_per_batch: 1000,
  upload_max_bytes: 20 * 1024 * 1048576, upload_max_chunk_bytes: 64 * 1048576 };

export async function loadLimits() {
  try { limits = { ...limits, ...(await api("/web/limits")) }; } catch { /* keep the defaults */ }
  $("limits").textContent = `Up to ${mb(limits.max_request_bytes)} per request; larger files (up to ${
    mb(limits.upload_max_bytes)}) are sent in parts and resume after a dropped connection.`;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function isZip(file) {
  try {
    const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
    return head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6);
  } catch { return false; }
}

// One XMLHttpRequest (fetch has no upload progress). Resolves {status, body}; rejects on a dropped connection.
function send(method, url, body, { onProgress, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader("Accept", "application/json");
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (session.csrf) xhr.setRequestHeader("X-CSRF-Token", session.csrf);
    if (onProgress) xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded); });
    xhr.addEventListener("load", () => {
      let parsed = null;
      try { parsed = JSON.parse(xhr.responseText); } catch { parsed = null; }
      resolve({ status: xhr.status, body: parsed });
    });
    xhr.addEventListener("error", () => reject(new ApiError("The connection dropped.", 0)));
    xhr.addEventListener("timeout", () => reject(new ApiError("The server did not answer in time.", 0)));
    xhr.send(body);
  });
}

function problem(answer) {
  const b = answer.body;
  return new ApiError(b && b.detail ? b.detail : `The server answered ${answer.status}.`, answer.status, b && b.code, b);
}

async function sha256Hex(blob) {
  if (!(globalThis.crypto && crypto.subtle)) return null;  // not a secure context: the header is optional
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

class Transfer {
  constructor(label) {
    this.fill = el("div", { className: "fill" });
    this.bar = el("div", { className: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
      "aria-label": `Sending ${label}` }, this.fill);
    this.text = el("p", { className: "doc-message" });
    this.extra = el("div", { className: "transfer-extra" });
    this.li = el("li", { className: "item transfer" }, el("div", { className: "head" },
      el("span", { className: "name" }, label)), this.bar, this.text, this.extra);
    $("transfers").prepend(this.li);
  }

  progress(done, total, text) {
    const pct = total ? Math.min(100, Math.round((100 * done) / total)) : 0;
    this.bar.setAttribute("aria-valuenow", String(pct));
    this.fill.style.width = `${pct}%`;
    this.text.textContent = text || `${mb(done)} of ${mb(total)} (${pct}%)`;
  }

  finish(text, kind = "ok") {
    this.bar.hidden = true;
    this.li.dataset.status = kind === "error" ? "failed" : "completed";
    say(this.text, text, kind);
  }
}

export class Uploader {
  constructor({ caseId, onAccepted }) {
    this.caseId = caseId;
    this.onAccepted = onAccepted;
  }

  async upload(fileList, { duplicates = "skip" } = {}) {
    const files = Array.from(fileList || []);
    if (!files.length || !this.caseId) return;
    const refused = [];
    const chunked = [];
    const zips = [];
    const small = [];
    const perRequest = Math.min(limits.max_request_bytes, limits.max_file_bytes);
    for (const f of files) {
      if (f.size === 0) refused.push(`${f.name} is empty.`);
      else if (f.size > limits.upload_max_bytes) {
        refused.push(`${f.name} is ${mb(f.size)}; the largest file accepted is ${mb(limits.upload_max_bytes)}.`);
      } else if (f.size + 65536 > perRequest) chunked.push(f);
      else if (await isZip(f)) zips.push(f);
      else small.push(f);
    }
    if (refused.length) say("upload-message", `Not sent: ${refused.join(" ")}`, "error");
    else say("upload-message", "");
    const groups = [];
    let group = [];
    let size = 0;
    const maxFiles = Math.min(FILES_PER_REQUEST, limits.max_files_per_batch);
    const maxBytes = Math.min(BYTES_PER_REQUEST, limits.max_request_bytes - 65536);
    for (const f of small) {
      if (group.length && (group.length >= maxFiles || size + f.size + 1024 > maxBytes)) { groups.push(group); group = []; size = 0; }
      group.push(f);
      size += f.size + 1024;
    }
    if (group.length) groups.push(group);
    for (const z of zips) groups.push([z]);
    for (const g of groups) await this.multipart(g, duplicates);
    for (const f of chunked) await this.chunked(f, duplicates);
  }

  async multipart(files, duplicates) {
    const label = files.length === 1 ? files[0].name : plural(files.length, "file");
    const total = files.reduce((a, f) => a + f.size, 0);
    const transfer = new Transfer(label);
    transfer.progress(0, total);
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    const query = duplicates === "allow" ? "?duplicates=allow" : "";
    let answer;
    try {
      answer = await send("POST", `/cases/${enc(this.caseId)}/documents${query}`, form,
        { onProgress: (loaded) => transfer.progress(Math.min(loaded, total), total) });
    } catch (err) {
      transfer.finish(`${label} could not be sent: ${err.message} Try again when the server is back.`, "error");
      return;
    }
    if (answer.status !== 202 || !answer.body) {
      transfer.finish(`${label} ${files.length === 1 ? "was" : "were"} not accepted: ${problem(answer).message}`, "error");
      return;
    }
    this.accepted(answer.body, transfer, files);
  }

  accepted(body, transfer, files) {
    const docs = body.documents || [];
    const failed = docs.filter((d) => d.status === "failed");
    const dupes = body.duplicates || [];
    const parts = [];
    const started = docs.length - failed.length;
    if (started) parts.push(`${plural(started, "file")} sent for processing.`);
    if (failed.length) parts.push(`${plural(failed.length, "file")} ${failed.length === 1 ? "was" : "were"} refused (see the table).`);
    if (dupes.length) parts.push(`${plural(dupes.length, "file")} already in this case.`);
    transfer.finish(parts.join(" ") || "Sent.", failed.length && !started ? "error" : "ok");
    for (const d of dupes) transfer.extra.append(this.duplicateLine(d, files));
    this.onAccepted(body);
  }

  duplicateLine(d, files) {
    const line = el("p", { className: "duplicate" }, `${d.filename} is already in this case`,
      d.existing_filename !== d.filename ? ` as ${d.existing_filename}` : "", ". ");
    line.dataset.documentId = d.document_id;
    line.append(el("a", { href: hashFor({ case: this.caseId, doc: d.document_id, page: 1 }) }, `Open ${d.existing_filename}`));
    const file = files.find((f) => f.name === d.filename && f.size === d.size_bytes) || files.find((f) => f.size === d.size_bytes);
    if (file) {
      const again = el("button", { type: "button", className: "secondary" }, "Process it anyway");
      again.addEventListener("click", () => { again.disabled = true; this.upload([file], { duplicates: "allow" }); });
      line.append(" ", again);
    }
    return line;
  }

  // ------------------------------------------------------------ chunked, resumable
  async chunked(file, duplicates) {
    const transfer = new Transfer(file.name);
    const memoKey = `lexintel-upload:${this.caseId}:${file.name}:${file.size}:${file.lastModified}`;
    let s = null;
    const remembered = localStorage.getItem(memoKey);
    if (remembered) {
      try {
        const found = await api(`/uploads/${enc(remembered)}`);
        if (found.status === "open") s = found;
      } catch { s = null; }
    }
    try {
      if (!s) {
        const chunk = Math.min(CHUNK_BYTES, limits.upload_max_chunk_bytes);
        s = await api(`/cases/${enc(this.caseId)}/uploads`, { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ filename: file.name, total_size: file.size, chunk_size: chunk }) });
        localStorage.setItem(memoKey, s.upload_id);
      } else {
        transfer.progress(s.received_bytes, file.size,
          `Resuming: ${s.received.length} of ${s.chunk_count} parts already on the server.`);
      }
    } catch (err) {
      transfer.finish(`${file.name} could not be started: ${err.message}`, "error");
      return;
    }
    transfer.li.dataset.uploadId = s.upload_id;
    const size = s.chunk_size;
    let missing = [...s.missing];
    const have = () => (s.chunk_count - missing.length) * size;
    let failures = 0;
    while (missing.length) {
      const index = missing[0];
      const blob = file.slice(index * size, Math.min(file.size, (index + 1) * size));
      try {
        const digest = await sha256Hex(blob);
        const headers = { "Content-Type": "application/octet-stream" };
        if (digest) headers["X-Chunk-SHA256"] = digest;
        const base = have();
        const answer = await send("PUT", `/uploads/${enc(s.upload_id)}/chunks/${index}`, blob, {
          headers, onProgress: (loaded) => transfer.progress(Math.min(file.size, base + loaded), file.size) });
        if (answer.status !== 200) throw problem(answer);
        missing.shift();
        failures = 0;
        transfer.progress(Math.min(file.size, have()), file.size);
      } catch (err) {
        const retryable = !err.status || err.status >= 500 || err.status === 408 || err.status === 429;
        if (!retryable) {
          localStorage.removeItem(memoKey);
          transfer.finish(`${file.name} stopped: ${err.message}`, "error");
          return;
        }
        failures += 1;
        if (failures > GIVE_UP_AFTER) {
          await this.waitForResume(transfer, file.name);
          failures = 0;
        } else {
          const wait = Math.min(1000 * 2 ** (failures - 1), MAX_BACKOFF_MS);
          transfer.progress(have(), file.size, `Connection dropped; trying again in ${Math.round(wait / 1000)} s. `
            + `${mb(have())} of ${mb(file.size)} are safe on the server.`);
          transfer.li.dataset.dropped = String(Number(transfer.li.dataset.dropped || 0) + 1);
          await sleep(wait);
        }
        try {
          const now = await api(`/uploads/${enc(s.upload_id)}`);
          missing = [...now.missing];  // the server's files are the truth about which parts it has
        } catch { /* still down: keep our list and try again */ }
      }
    }
    transfer.progress(file.size, file.size, `All ${plural(s.chunk_count, "part")} sent; putting ${file.name} together…`);
    const query = duplicates === "allow" ? "?duplicates=allow" : "";
    for (let attempt = 1; ; attempt += 1) {
      try {
        const body = await api(`/uploads/${enc(s.upload_id)}/complete${query}`, { method: "POST" });
        localStorage.removeItem(memoKey);
        this.accepted(body, transfer, [file]);
        return;
      } catch (err) {
        if (err.status === 409 && err.code === "upload_assembling") {
          // An earlier try whose answer was lost is still putting the file together (seconds for hundreds of MB):
          // ask again until it is done, then this call answers with that try's result.
          attempt = 0;
          await sleep(ASSEMBLING_POLL_MS);
          continue;
        }
        if (err.status && err.status < 500) {
          localStorage.removeItem(memoKey);
          transfer.finish(`${file.name} was not accepted: ${err.message}`, "error");
          return;
        }
        if (attempt > GIVE_UP_AFTER) await this.waitForResume(transfer, file.name);
        else await sleep(Math.min(1000 * 2 ** (attempt - 1), MAX_BACKOFF_MS));
      }
    }
  }

  waitForResume(transfer, name) {
    return new Promise((resolve) => {
      say(transfer.text, `${name} is paused: the server cannot be reached. The parts already sent are kept.`, "error");
      const resume = el("button", { type: "button" }, "Resume");
      resume.addEventListener("click", () => { resume.remove(); resolve(); });
      transfer.extra.append(resume);
      resume.focus();
    });
  }
}
