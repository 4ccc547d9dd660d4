// The activity log: every event of the case in plain words, with its date and time.
//
// Per-page lines ("Extracting page 12/80 …") of one document's stage are one line, updated in place and moved
// to the end, so a 375-page deposition is one line per stage instead of 375. The log follows new entries
// unless the reader has scrolled up to read something. Each line lists the event ids it stands for
// (data-event-ids), oldest first.

import { $, el, formatDateTime } from "./api.js";

const LIMIT = 400;
const GROUPED = new Set(["extracting", "ocr", "chunking", "indexing", "embedding", "uploading", "unpacking"]);

export class ActivityLog {
  constructor(list) {
    this.list = list;
    this.groups = new Map();  // group key -> li
    this.follow = true;
    this.scheduled = false;
    list.addEventListener("scroll", () => {
      this.follow = list.scrollTop + list.clientHeight >= list.scrollHeight - 40;
    });
  }

  clear() {
    this.list.replaceChildren();
    this.groups.clear();
    this.follow = true;
  }

  add(id, ev) {
    const kind = ev.status === "failed" || ev.error ? "error" : ev.status === "completed" ? "ok" : "";
    const detail = ev.error && ev.error.detail;
    const text = detail && !String(ev.message || "").includes(detail) ? `${ev.message} (${detail})` : ev.message;
    const subject = ev.document_id || ev.batch_id || "";
    const key = ev.status === "processing" && !ev.error && GROUPED.has(ev.stage)
      ? `${subject}:${ev.run || 0}:${ev.stage}` : null;
    let li = key ? this.groups.get(key) : null;
    if (li && li.isConnected) {
      li.querySelector("time").dateTime = ev.timestamp || "";
      li.querySelector("time").textContent = formatDateTime(ev.timestamp, { seconds: true });
      li.querySelector(".text").textContent = text || "";
      li.dataset.eventIds = `${li.dataset.eventIds} ${id}`;
      if (li !== this.list.lastElementChild) this.list.append(li);
    } else {
      li = el("li", { className: kind },
        el("time", { dateTime: ev.timestamp || "" }, formatDateTime(ev.timestamp, { seconds: true })), " ",
        el("span", { className: "text" }, text || ""));
      li.dataset.eventIds = String(id);
      this.list.append(li);
      if (key) this.groups.set(key, li);
    }
    // a stage's lines end when the subject moves on: forget its other groups
    if (!key && subject) {
      for (const k of this.groups.keys()) if (k.startsWith(`${subject}:`)) this.groups.delete(k);
    }
    li.dataset.eventId = String(id);
    while (this.list.childElementCount > LIMIT) this.list.firstElementChild.remove();
    this.scrollSoon();
  }

  note(id, text, timestamp, kind = "") {
    const li = el("li", { className: kind }, el("time", { dateTime: timestamp || "" },
      formatDateTime(timestamp, { seconds: true })), " ", el("span", { className: "text" }, text));
    li.dataset.eventIds = String(id);
    li.dataset.eventId = String(id);
    this.list.append(li);
    this.scrollSoon();
  }

  scrollSoon() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      if (this.follow) this.list.scrollTop = this.list.scrollHeight;
    });
  }
}

export function eventIds() {
  return [...$("activity").querySelectorAll("li")].flatMap((li) => li.dataset.eventIds.split(" ").map(Number));
}
