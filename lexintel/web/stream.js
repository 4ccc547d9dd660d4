// The page's ONE EventSource (far under the browser's six connections per host), with replay and resume.
//
// Opened from a cursor a little before the case's newest event id, so the activity log can show recent history
// after a reload: events up to `snapshotId` (what the document list already reflects) go to the log only, later
// ones change the table too. The page drops any event id it has already applied, whatever the reconnects do.
// With no case open it follows /case-list/stream instead. Either stream also brings `cases_changed` (a case of
// this user's list renamed, deleted, created or shared; no id: never logged), and each time a stream opens the
// page is told to reload its list too (notices from before, or from while it was away, are not replayed).

import { enc } from "./api.js";

export const HISTORY = 300;  // events of history replayed into the log on opening a case

export class CaseStream {
  // handlers: {onEvent(id, ev, {history}), onNotice(name, id, data, {history}), onState(kind), onReset(),
  //            onCases(data or null: reload the case list)}
  constructor(handlers) {
    this.handlers = handlers;
    this.es = null;
    this.caseId = null;
    this.lastId = 0;
    this.snapshotId = 0;
    this.reopenTimer = null;
    this.reopenDelay = 1000;
  }

  open(caseId, snapshotId) {
    this.close();
    this.caseId = caseId;
    this.snapshotId = snapshotId;
    this.lastId = Math.max(0, snapshotId - HISTORY);
    this.connect();
  }

  // No case open: only the case-list notices.
  openList() {
    this.close();
    this.caseId = null;
    this.lastId = this.snapshotId = 0;
    this.connect();
  }

  connect() {
    clearTimeout(this.reopenTimer);
    const url = this.caseId ? `/cases/${enc(this.caseId)}/stream?last_event_id=${this.lastId}` : "/case-list/stream";
    const es = new EventSource(url);
    this.es = es;
    this.handlers.onState("connecting");
    es.addEventListener("open", () => {
      if (es !== this.es) return;
      this.reopenDelay = 1000;
      this.handlers.onState("live");
      this.handlers.onCases(null);  // what changed before it was open (or while it was away) is not replayed
    });
    es.addEventListener("cases_changed", (e) => {
      if (es !== this.es) return;
      let data = null;
      try { data = JSON.parse(e.data); } catch { /* reload anyway */ }
      this.handlers.onCases(data);
    });
    es.addEventListener("progress", (e) => this.receive(es, e, null));
    for (const name of ["deleted", "case_deleted", "case_renamed"]) {
      es.addEventListener(name, (e) => this.receive(es, e, name));
    }
    es.addEventListener("reset", () => {
      // Our cursor is not in the server's log (pruned, or another database): start again from its state.
      if (es === this.es) this.handlers.onReset();
    });
    es.addEventListener("error", () => this.failed(es));
  }

  receive(es, e, name) {
    if (es !== this.es) return;
    const id = Number(e.lastEventId);
    if (!Number.isInteger(id) || id <= this.lastId) return;  // already applied (replay after a reconnect)
    this.lastId = id;
    let data;
    try { data = JSON.parse(e.data); } catch { return; }
    const history = id <= this.snapshotId;
    if (name) this.handlers.onNotice(name, id, data, { history });
    else this.handlers.onEvent(id, data, { history });
  }

  failed(es) {
    if (es !== this.es) return;
    this.handlers.onState("down");
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. an error status while the server restarts): reopen from our own cursor.
      es.close();
      clearTimeout(this.reopenTimer);
      this.reopenTimer = setTimeout(() => { if (es === this.es) this.connect(); }, this.reopenDelay);
      this.reopenDelay = Math.min(this.reopenDelay * 2, 30000);
    }
  }

  close() {
    clearTimeout(this.reopenTimer);
    if (this.es) this.es.close();
    this.es = null;
  }
}
