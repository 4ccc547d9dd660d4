"""One instance per data directory: a second one is refused with a message that says what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lexintel.store.lock import DataDirInUse, DataDirLock


def test_a_second_instance_on_the_same_data_dir_is_refused(make_client: Any, tmp_path: Path) -> None:
    first = make_client()
    assert first.get("/health").status_code == 200
    with pytest.raises(DataDirInUse, match="LEXINTEL_DATA_DIR"):
        DataDirLock(first.app.state.services.settings.data_dir).acquire()
    with pytest.raises(BaseExceptionGroup) as refused:  # the test client wraps lifespan errors in a group
        make_client()
    assert refused.group_contains(DataDirInUse)
    first.__exit__(None, None, None)
    second = make_client()  # released at shutdown: the next start takes it
    assert second.get("/health").status_code == 200
