"""The running parts of one LexIntel instance, built at start and closed at shutdown.

Built bottom-up, each part getting what it needs in its constructor (no part is patched in afterwards): the
store and the event path, then the work queue, the document lifecycle that puts work in it, the pipeline that
takes work out, the batch tracker, and the upload side that feeds them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.datastructures import State
from litestar.di import NamedDependency

from lexintel.batches.tracker import BatchTracker
from lexintel.case_list import CaseLists
from lexintel.cases import Cases
from lexintel.documents import Documents
from lexintel.events.broadcaster import Broadcaster
from lexintel.events.emitter import Emitter
from lexintel.events.log import EventLog
from lexintel.events.mirror_notices import NoticeMirror
from lexintel.events.mirror_signing import MirrorGate
from lexintel.events.redis_mirror import RedisMirror
from lexintel.observability.metrics import Metrics
from lexintel.pipeline.queue import WorkQueue
from lexintel.pipeline.runner import Pipeline
from lexintel.reembedding import Embeddings
from lexintel.settings import Settings
from lexintel.store.db import Database
from lexintel.store.files import FileStore
from lexintel.store.records import Records
from lexintel.upload.chunked import UploadSessions
from lexintel.upload.inflight import UploadSlots
from lexintel.upload.intake import Intake
from lexintel.upload.unpack import ZipIntake

__all__ = ["Services", "Svc", "provide_services"]


@dataclass
class Services:
    """Everything a request handler may need."""

    settings: Settings
    db: Database
    files: FileStore
    records: Records
    events: EventLog
    broadcaster: Broadcaster
    emitter: Emitter
    documents: Documents  # the document lifecycle: create, retry, delete… (the pipeline does the rest)
    pipeline: Pipeline
    batches: BatchTracker  # multi-file/ZIP/chunked batches and their progress
    zips: ZipIntake  # ZIP unpacking jobs
    intake: Intake
    uploads: UploadSessions  # resumable chunked uploads
    cases: Cases  # webadmin: rename and delete cases (everything of a deleted case goes)
    case_lists: CaseLists  # every open page's case switcher follows its user's cases (cases_changed notices)
    accepting_uploads: bool = True
    mirror: RedisMirror | None = None  # the optional Redis mirror (LEXINTEL_REDIS_URL); None when disabled
    metrics: Metrics = field(default_factory=Metrics)  # per instance: its own Prometheus registry
    embeddings: Embeddings | None = None  # embed: start-up model check, re-embedding, retries (issue 14)
    upload_slots: UploadSlots = field(default_factory=lambda: UploadSlots(0))  # multipart uploads in flight

    def __post_init__(self) -> None:
        self.upload_slots = UploadSlots(self.settings.max_uploads_in_flight_per_user)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Open the database and wire the parts together (no tasks started yet)."""
        db = Database(settings.db_path)
        files = FileStore(settings.data_dir)
        files.clean_incoming()
        records = Records(db)
        events = EventLog(db)
        broadcaster = Broadcaster(settings.subscriber_queue)
        emitter = Emitter(db, events, broadcaster)
        queue = WorkQueue()
        documents = Documents(db, records, files, emitter, events, broadcaster, queue)
        pipeline = Pipeline(settings, db, records, queue, documents)
        batches = BatchTracker(settings, db, emitter)
        emitter.listeners.append(batches.on_event)
        zips = ZipIntake(settings, db, batches, documents, files.incoming)
        intake = Intake(db, documents, batches, zips)
        uploads = UploadSessions(settings, db, files, batches, intake)
        case_lists = CaseLists(db)
        cases = Cases(db, records, events, emitter, queue, uploads.root, case_lists)
        mirror = None
        if settings.redis_url:
            mirror = NoticeMirror(settings.redis_url, settings.instance_id, emitter, events, broadcaster,
                                  gate=MirrorGate(settings, records))  # limits: signed messages, outside events
            # first: a listener may emit (batch progress), and the mirror must queue events in id order
            emitter.listeners.insert(0, mirror.offer)
            emitter.notice_listeners.append(mirror.offer_notice)  # renames and deletions (events/mirror_notices.py)
        return cls(settings, db, files, records, events, broadcaster, emitter, documents, pipeline, batches, zips,
                   intake, uploads, cases=cases, case_lists=case_lists, mirror=mirror,
                   embeddings=Embeddings(settings, db, emitter))


def provide_services(state: State) -> Services:
    """Litestar dependency: the instance's :class:`Services`."""
    services: Services = state.services
    return services


Svc = NamedDependency[Services]
"""Handler parameter type for the ``svc`` dependency."""
