"""The database schema, as the ordered list of migrations that builds it (the runner is in :mod:`.runner`).

Adding a migration is one module and one entry: write ``vNNN_<what>.py`` next to this file holding either
``SQL = \"\"\"…\"\"\"`` (statements run in one transaction) or ``def apply(conn: sqlite3.Connection) -> None`` (runs
inside the transaction; use ``conn.execute``/``run_script``, never ``executescript`` or ``commit``), then append
``Migration(NNN, "<what>", vNNN_<what>.SQL)`` (or ``….apply``) to :data:`MIGRATIONS`. The next start applies
it to every database below that version. A migration that has shipped is never edited.
"""

from __future__ import annotations

from lexintel.store.migrations import (
    v001_baseline,
    v002_accounts_access,
    v003_vectors,
    v004_ocr_attachments,
    v005_search,
)
from lexintel.store.migrations.runner import (
    Migration,
    MigrationFailed,
    MigrationStep,
    SchemaTooNew,
    migrate,
    run_script,
    schema_version,
)

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration", "MigrationFailed", "MigrationStep", "SchemaTooNew",
           "migrate", "run_script", "schema_version"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline schema", v001_baseline.SQL),
    Migration(2, "disabled users and read-only shares", v002_accounts_access.SQL),
    Migration(3, "passage vectors and embedding models", v003_vectors.SQL),
    Migration(4, "page confidence and needs_ocr, attachments' parent", v004_ocr_attachments.SQL),
    Migration(5, "keyword search: stemmed index by case, document names, passage offsets", v005_search.apply),
)

LATEST_VERSION = MIGRATIONS[-1].version
"""The schema version this code writes; a database above it is refused (:class:`SchemaTooNew`)."""
