// The document viewer: one page at a time, the original page as a picture drawn by the server (PDFs only;
// GET /documents/{id}/pages/{n}/image) beside its extracted text, with page navigation (previous, next, jump to
// page N: all in the address, so a page can be bookmarked), a search hit highlighted on the text (the passage
// by its char_start/char_end, the matched words marked inside it), OCR confidence where the text endpoint gives
// it, and a download of the original file.

import { $, api, el, enc, hashFor, num, say } from "./api.js";

const KIND_NAMES = { docx: "a Word document", text: "a text file", html: "an HTML page", eml: "an email",
  png: "an image", jpeg: "an image", tiff: "an image" };

// Code-point offsets (the server's) to UTF-16 offsets (JavaScript's); the same when there are no surrogates.
function utf16Offsets(text, points) {
  if (!/[\uD800-\uDFFF]/.test(text)) return points;
  const out = [];
  let cp = 0;
  let i = 0;
  const wanted = [...points].sort((a, b) => a - b);
  const map = new Map();
  for (const target of wanted) {
    while (cp < target && i < text.length) {
      const code = text.codePointAt(i);
      i += code > 0xffff ? 2 : 1;
      cp += 1;
    }
    map.set(target, i);
  }
  for (const p of points) out.push(map.get(p));
  return out;
}

function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

// Text with each term marked (case-insensitive), as nodes.
function marked(text, terms) {
  if (!terms.length || !text) return [text];
  const re = new RegExp(terms.map(escapeRegExp).join("|"), "giu");
  const out = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (!m[0]) continue;
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(el("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export class Viewer {
  constructor() {
    this.caseId = null;
    this.docId = null;
    this.doc = null;
    this.text = null;
    this.page = 1;
    this.generation = 0;
    $("page-prev").addEventListener("click", () => this.go(this.page - 1));
    $("page-next").addEventListener("click", () => this.go(this.page + 1));
    $("page-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const n = Number($("page-input").value);
      if (Number.isInteger(n) && n >= 1 && n <= this.count()) this.go(n);
      else say("viewer-message", `Choose a page from 1 to ${this.count()}.`, "error");
    });
    $("page-image").addEventListener("error", () => this.imageFailed());
    $("page-image").addEventListener("load", () => { $("page-caption").textContent = `Page ${this.page} as printed`; });
  }

  count() {
    return Math.max(this.text ? this.text.pages.length : 0, (this.doc && this.doc.pages_total) || 0, 1);
  }

  go(n) {
    if (n < 1 || n > this.count()) return;
    location.hash = hashFor({ case: this.caseId, doc: this.docId, page: n });
  }

  forget(docId) {
    if (this.docId === docId) { this.docId = null; this.doc = null; this.text = null; }
  }

  // hit: {start, end, terms} from a search result (any part may be missing)
  async show(caseId, docId, page, hit = {}) {
    const generation = ++this.generation;
    this.caseId = caseId;
    $("viewer").hidden = false;
    if (docId !== this.docId || !this.text || this.text.status !== "indexed") {
      try {
        const [doc, text] = await Promise.all([api(`/documents/${enc(docId)}`), api(`/documents/${enc(docId)}/text`)]);
        if (generation !== this.generation) return;
        this.docId = docId;
        this.doc = doc;
        this.text = text;
      } catch (err) {
        if (generation !== this.generation) return;
        say("viewer-message", err.message, "error");
        return;
      }
    }
    this.page = Math.min(Math.max(1, page || 1), this.count());
    this.render(hit);
  }

  render(hit) {
    const doc = this.doc;
    const n = this.page;
    $("viewer-heading").textContent = doc.filename;
    $("page-input").value = String(n);
    $("page-count").textContent = `of ${num(this.count())}`;
    $("page-prev").disabled = n <= 1;
    $("page-next").disabled = n >= this.count();
    $("download").href = `/documents/${enc(doc.id)}/file`;
    $("download").setAttribute("aria-label", `Download the original ${doc.filename}`);
    say("viewer-message", "");
    const figure = $("page-figure");
    const img = $("page-image");
    figure.parentElement.classList.toggle("text-only", doc.kind !== "pdf");
    if (doc.kind === "pdf") {
      figure.hidden = false;
      const width = window.devicePixelRatio > 1.4 ? 1200 : 800;
      const src = `/documents/${enc(doc.id)}/pages/${n}/image?width=${width}`;
      img.alt = `Page ${n} of ${doc.filename}`;
      $("page-caption").textContent = "Drawing the page…";
      if (img.getAttribute("src") !== src) img.src = src;
    } else {
      figure.hidden = true;
      img.removeAttribute("src");
      say("viewer-message", `This is ${KIND_NAMES[doc.kind] || "not a PDF"}: its text is shown.`);
    }
    const page = this.text.pages.find((p) => p.page === n);
    const meta = [];
    if (page && page.label) meta.push(page.label);
    if (page && typeof page.ocr_confidence === "number") {
      meta.push(`Read from the scan by OCR, confidence ${Math.round(page.ocr_confidence)}%`);
    }
    $("page-meta").textContent = meta.join(" · ");
    const pre = $("page-text");
    if (!page) {
      pre.replaceChildren(this.text.status === "indexed" ? "(no text on this page)" : "This page's text is not read yet.");
      return;
    }
    const text = page.text || "";
    if (!text) { pre.replaceChildren("(no text on this page)"); return; }
    const terms = (hit.terms || []).filter(Boolean);
    if (Number.isInteger(hit.start) && Number.isInteger(hit.end) && hit.end > hit.start) {
      const [a, b] = utf16Offsets(text, [hit.start, Math.min(hit.end, [...text].length)]);
      const passage = el("span", { className: "passage" }, ...marked(text.slice(a, b), terms));
      pre.replaceChildren(text.slice(0, a), passage, text.slice(b));
      if (!passage.querySelector("mark")) passage.classList.add("only");
      (passage.querySelector("mark") || passage).scrollIntoView({ block: "center" });
    } else {
      pre.replaceChildren(...marked(text, terms));
      const first = pre.querySelector("mark");
      if (first) first.scrollIntoView({ block: "center" }); else pre.scrollTop = 0;
    }
  }

  async imageFailed() {
    const img = $("page-image");
    const src = img.getAttribute("src");
    if (!src) return;
    let detail = "The page picture could not be made; its text is beside it.";
    try {
      const resp = await fetch(src, { headers: { Accept: "application/json" } });
      const body = await resp.json();
      if (body && body.detail) detail = body.detail;
    } catch { /* keep the general sentence */ }
    if (img.getAttribute("src") === src) $("page-caption").textContent = detail;
  }
}
