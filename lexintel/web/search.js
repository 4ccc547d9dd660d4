// Search from the header: GET /search?q&case_id&mode=keyword|semantic|hybrid&limit&offset, results above the
// table with the matched words marked, "More results" paging by offset, and each hit opening its page in the
// viewer with the passage highlighted (char_start/char_end) and its words marked.

import { $, api, el, hashFor, num, plural, say } from "./api.js";

const PAGE = 20;
const MATCHED = { keyword: "exact words", semantic: "similar meaning" };

// snippet_html is escaped by the server with <mark> around matches; copy only text and <mark> anyway.
function snippetNodes(html) {
  const parsed = new DOMParser().parseFromString(`<p>${html}</p>`, "text/html");
  const out = [];
  const terms = new Set();
  for (const node of parsed.body.firstChild ? parsed.body.firstChild.childNodes : []) {
    if (node.nodeName === "MARK") {
      out.push(el("mark", {}, node.textContent));
      terms.add(node.textContent.toLowerCase());
    } else out.push(node.textContent);
  }
  return { nodes: out, terms: [...terms] };
}

export class Search {
  constructor() {
    this.caseId = null;
    this.q = "";
    this.mode = "keyword";
    this.offset = 0;
    this.generation = 0;
    $("more-hits").addEventListener("click", () => this.run(this.q, this.mode, { more: true }));
  }

  reset(caseId) {
    this.caseId = caseId;
    this.q = "";
    $("hits").replaceChildren();
    $("results").hidden = true;
    $("more-hits").hidden = true;
    say("search-message", "");
  }

  async run(q, mode, { more = false } = {}) {
    if (!this.caseId) return;
    const generation = ++this.generation;
    if (!more) {
      this.q = q;
      this.mode = mode;
      this.offset = 0;
      $("hits").replaceChildren();
    }
    $("results").hidden = false;
    $("more-hits").hidden = true;
    say("search-message", "Searching…");
    const params = new URLSearchParams({ q, case_id: this.caseId, mode, limit: PAGE, offset: this.offset });
    let body;
    try {
      body = await api(`/search?${params}`);
    } catch (err) {
      if (generation === this.generation) say("search-message", err.message, "error");
      return;
    }
    if (generation !== this.generation) return;
    const hits = body.hits || [];
    const firstNew = $("hits").childElementCount;
    for (const h of hits) $("hits").append(this.hitItem(h));
    this.offset += hits.length;
    const total = Number.isInteger(body.total) ? body.total : null;
    const shown = $("hits").childElementCount;
    if (!shown) say("search-message", `Nothing found for “${q}”.`);
    else if (total !== null) say("search-message", `${plural(total, "passage")} found; showing ${num(shown)}.`, "ok");
    else say("search-message", `${plural(shown, "passage")} found.`, "ok");
    $("more-hits").hidden = !(total !== null ? this.offset < total : hits.length === PAGE);
    if (more && hits.length) $("hits").children[firstNew].querySelector("a").focus();
    else if (!more) {
      $("results-heading").focus({ preventScroll: true });
      $("results").scrollIntoView({ block: "start" });
    }
  }

  hitItem(h) {
    const { nodes, terms } = snippetNodes(h.snippet_html || "");
    const at = Number.isInteger(h.char_start) && Number.isInteger(h.char_end) ? `${h.char_start}-${h.char_end}` : null;
    const href = hashFor({ case: h.case_id || this.caseId, doc: h.document_id, page: h.page, at,
      mark: terms.join("|") || null });
    const by = (h.matched_by || []).map((m) => MATCHED[m] || m);
    return el("li", { className: "hit" },
      el("a", { href }, `${h.filename}, page ${h.page}`),
      by.length ? el("span", { className: "muted matched" }, ` · ${by.join(" and ")}`) : null,
      el("p", { className: "snippet" }, ...nodes));
  }
}

export function hitFromHash(params) {
  const at = (params.get("at") || "").split("-").map(Number);
  const terms = (params.get("mark") || "").split("|").filter(Boolean);
  return at.length === 2 && at.every(Number.isInteger) ? { start: at[0], end: at[1], terms } : { terms };
}
