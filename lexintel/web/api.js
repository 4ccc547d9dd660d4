// Shared helpers of the page's modules: the JSON API client, DOM building (textContent only, never markup
// strings, so file names and messages cannot inject anything), and the words and numbers the page shows.

export const $ = (id) => document.getElementById(id);
export const enc = encodeURIComponent;

// The session: the X-CSRF-Token of a cookie session (auth on; EventSource sends the cookie itself), and what to
// do when the server says the session is gone.
export const session = { csrf: null, onUnauthorized: null };

export class ApiError extends Error {
  constructor(message, status, code = "", body = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// fetch + JSON + errors in plain words. `raw: true` returns {body, headers}.
export async function api(path, options = {}) {
  const { raw, ...init } = options;
  const headers = { Accept: "application/json", ...(init.headers || {}) };
  if (session.csrf && init.method && init.method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  let resp;
  try {
    resp = await fetch(path, { ...init, headers });
  } catch {
    throw new ApiError("The server cannot be reached. Check the connection and try again.", 0);
  }
  let body = null;
  if (resp.status !== 204) {
    try { body = await resp.json(); } catch { body = null; }
  }
  if (resp.status === 401 && !path.startsWith("/auth/") && session.onUnauthorized) {
    session.onUnauthorized("Your session has ended: log in again.");
  }
  if (!resp.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `The server answered ${resp.status}.`;
    throw new ApiError(detail, resp.status, body && body.code, body);
  }
  return raw ? { body, headers: resp.headers } : body;
}

export function jsonBody(data, method = "POST") {
  return { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) };
}

// el("p", {className: "x", "aria-label": "y"}, child, "text", ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key in node && !key.includes("-")) node[key] = value; else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function say(id, text, kind = "") {
  const node = typeof id === "string" ? $(id) : id;
  node.textContent = text;
  node.dataset.kind = kind;
}

// Formatters are made once: building an Intl formatter per call costs more than drawing a table row.
const NUMBER = new Intl.NumberFormat("en");
const DATES = new Map();

// 1000 -> "1,000"
export function num(n) { return NUMBER.format(Number(n) || 0); }

// "1 page", "2 pages", "1,000 documents"
export function plural(n, one, many = `${one}s`) {
  const count = Number(n) || 0;
  return `${NUMBER.format(count)} ${count === 1 ? one : many}`;
}

const MIB = 1048576;
// Sizes in MB as the server's messages say them (MiB, one decimal).
export function mb(bytes) {
  const value = bytes / MIB;
  return `${value < 10 ? value.toFixed(1) : NUMBER.format(Math.round(value))} MB`;
}

export function formatEta(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 1) return "almost done";
  if (seconds < 90) return `about ${Math.round(seconds)} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

const THIS_YEAR = new Date().getFullYear();

// Date and time in the reader's locale; the year only when it is not this one.
export function formatDateTime(iso, { seconds = false } = {}) {
  const date = iso ? new Date(iso) : new Date();
  if (Number.isNaN(date.getTime())) return "";
  const year = date.getFullYear() !== THIS_YEAR;
  const key = `${seconds}${year}`;
  let format = DATES.get(key);
  if (!format) {
    const options = { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
    if (seconds) options.second = "2-digit";
    if (year) options.year = "numeric";
    format = new Intl.DateTimeFormat(undefined, options);
    DATES.set(key, format);
  }
  return format.format(date);
}

// The stage registry (GET /stages): a stage's words, what its items count, and its kind ("batch": a batch's own
// stage, such as uploading, whose events carry that stage's own share in stage_progress).
export const STAGES = { words: Object.create(null), units: Object.create(null), kinds: Object.create(null) };

export async function loadStages() {
  try {
    const body = await api("/stages");
    for (const stage of body.stages) {
      STAGES.words[stage.name] = stage.words;
      STAGES.units[stage.name] = stage.unit;
      STAGES.kinds[stage.name] = stage.kind;
    }
  } catch { /* without the registry a stage shows its name */ }
}

export function stageWords(stage) {
  return STAGES.words[stage] || stage || "";
}

// #case=…&doc=…&page=…
export function readHash() {
  return new URLSearchParams(location.hash.slice(1));
}

export function hashFor(params) {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") out.set(k, String(v));
  return `#${out.toString()}`;
}

// Run fn at most once per `ms`, the last call winning (used for table refreshes while events pour in).
export function throttle(fn, ms) {
  let timer = null;
  let pending = false;
  let last = 0;
  const run = () => {
    timer = null;
    pending = false;
    last = performance.now();
    fn();
  };
  const call = () => {
    if (timer) { pending = true; return; }
    const wait = Math.max(0, last + ms - performance.now());
    timer = setTimeout(run, wait);
  };
  call.cancel = () => { clearTimeout(timer); timer = null; pending = false; };
  call.pending = () => pending || timer !== null;
  return call;
}
