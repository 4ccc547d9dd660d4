"""The running parts of one LexIntel instance, built at start and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.datastructures import State
from litestar.di import NamedDependency

from lexintel.batches import BatchTracker
from lexintel.events.broadcaster import Broadcaster
from lexintel.events.emitter import Emitter
from lexintel.events.log import EventLog
from lexintel.events.redis_mirror import RedisMirror
from lexintel.observability.metrics import Metrics
from lexintel.pipeline.runner import Pipeline
from lexintel.settings import Settings
from lexintel.store.db import Database
from lexintel.store.files import FileStore
from lexintel.store.records import Records
from lexintel.upload.chunked import UploadSessions
from lexintel.upload.intake import Intake

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
    pipeline: Pipeline
    intake: Intake
    accepting_uploads: bool = True
    batches: BatchTracker = field(init=False)  # multi-file/ZIP/chunked batches and their progress (issue 4)
    uploads: UploadSessions = field(init=False)  # resumable chunked uploads (issue 4)
    mirror: RedisMirror | None = None  # the optional Redis mirror (LEXINTEL_REDIS_URL); None when disabled
    metrics: Metrics = field(default_factory=Metrics)  # per instance: its own Prometheus registry

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
        pipeline = Pipeline(settings, db, records, emitter)
        intake = Intake(records, files, emitter, pipeline)
        services = cls(settings, db, files, records, events, broadcaster, emitter, pipeline, intake)
        services.batches = BatchTracker(settings, db, records, emitter, files.incoming)
        services.batches.intake, intake.batches = intake, services.batches
        emitter.listeners.append(services.batches.on_event)
        services.uploads = UploadSessions(settings, db, files, services.batches)
        if settings.redis_url:
            services.mirror = RedisMirror(settings.redis_url, settings.instance_id, emitter, events, broadcaster)
            # first: a listener may emit (batch progress), and the mirror must queue events in id order
            emitter.listeners.insert(0, services.mirror.offer)
        return services


def provide_services(state: State) -> Services:
    """Litestar dependency: the instance's :class:`Services`."""
    services: Services = state.services
    return services


Svc = NamedDependency[Services]
"""Handler parameter type for the ``svc`` dependency."""
