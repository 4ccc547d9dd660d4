"""Settings from ``LEXINTEL_*`` variables, through ``Settings.from_env`` only: good values arrive typed, and
every bad value stops start-up with a :class:`SettingsError` that names the variable to fix.

The garbage test walks the dataclass's fields, so a setting added later is covered the day it is added: a
number or a flag that cannot be parsed must be refused by name, never crash with a bare ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest

from lexintel.settings import Settings, SettingsError

HINTS = typing.get_type_hints(Settings)


def env_name(field: str) -> str:
    return "LEXINTEL_" + field.upper()


def refused(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(environ)
    return str(info.value)


def test_no_variables_gives_the_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.port == 8000 and settings.host == "127.0.0.1" and settings.auth == "on"
    assert settings.db_path == Path("lexintel-data") / "lexintel.db"
    assert settings.redis_url is None and settings.pdf_boxes_flow is None
    assert settings.concurrency == settings.extraction_workers >= 1
    assert settings.instance_id  # generated when not given


def test_other_variables_are_ignored() -> None:
    assert Settings.from_env({"PORT": "1", "LEXINTEL": "x", "lexintel_port": "2"}).port == 8000


@pytest.mark.parametrize(("variables", "field", "expected"), [
    ({"LEXINTEL_PORT": "8080"}, "port", 8080),
    ({"LEXINTEL_PORT": " 9000 "}, "port", 9000),
    ({"LEXINTEL_PORT": "0"}, "port", 0),
    ({"LEXINTEL_PORT": "65535"}, "port", 65535),
    ({"LEXINTEL_HOST": "0.0.0.0"}, "host", "0.0.0.0"),
    ({"LEXINTEL_DATA_DIR": "/srv/lex"}, "data_dir", Path("/srv/lex")),
    ({"LEXINTEL_DOCUMENT_TIMEOUT": "2.5"}, "document_timeout", 2.5),
    ({"LEXINTEL_EXTRACTION_WORKERS": "3"}, "extraction_workers", 3),
    ({"LEXINTEL_CHUNK_SIZE": "100", "LEXINTEL_CHUNK_OVERLAP": "49"}, "chunk_overlap", 49),
    ({"LEXINTEL_CHUNK_OVERLAP": "0"}, "chunk_overlap", 0),
    ({"LEXINTEL_PDF_BOXES_FLOW": "none"}, "pdf_boxes_flow", None),
    ({"LEXINTEL_PDF_BOXES_FLOW": ""}, "pdf_boxes_flow", None),
    ({"LEXINTEL_PDF_BOXES_FLOW": "0.5"}, "pdf_boxes_flow", 0.5),
    ({"LEXINTEL_REDIS_URL": ""}, "redis_url", None),
    ({"LEXINTEL_REDIS_URL": " redis://127.0.0.1:6379/0 "}, "redis_url", "redis://127.0.0.1:6379/0"),
    ({"LEXINTEL_AUTH": "off"}, "auth", "off"),
    ({"LEXINTEL_SUBSCRIBER_QUEUE": "8"}, "subscriber_queue", 8),
    ({"LEXINTEL_SHUTDOWN_GRACE": "0"}, "shutdown_grace", 0.0),
    ({"LEXINTEL_ZIP_MAX_RATIO": "1"}, "zip_max_ratio", 1.0),
    ({"LEXINTEL_INSTANCE_ID": "node-a"}, "instance_id", "node-a"),
] + [({"LEXINTEL_LOG_JSON": raw}, "log_json", True) for raw in ("1", "true", "YES", " on ")]
  + [({"LEXINTEL_LOG_JSON": raw}, "log_json", False) for raw in ("0", "False", "no", "OFF")])
def test_valid_values_arrive_typed(variables: dict[str, str], field: str, expected: Any) -> None:
    value = getattr(Settings.from_env(variables), field)
    assert value == expected and type(value) is type(expected)


def test_database_path_and_concurrency_follow_their_variables() -> None:
    settings = Settings.from_env({"LEXINTEL_DATA_DIR": "/d", "LEXINTEL_EXTRACTION_WORKERS": "2"})
    assert settings.db_path == Path("/d/lexintel.db") and settings.concurrency == 2
    settings = Settings.from_env({"LEXINTEL_DATABASE_PATH": "/db/x.sqlite", "LEXINTEL_PIPELINE_CONCURRENCY": "5"})
    assert settings.db_path == Path("/db/x.sqlite") and settings.concurrency == 5


def _garbage_cases() -> list[tuple[str, str]]:
    """(field, unparsable text) for every field typed as a number or a flag."""
    cases = []
    for f in dataclasses.fields(Settings):
        kinds = set(typing.get_args(HINTS[f.name])) or {HINTS[f.name]}
        if bool in kinds:
            cases.append((f.name, "maybe"))
        elif kinds & {int, float}:
            cases += [(f.name, "twelve"), (f.name, "1e3x")]
    return cases


@pytest.mark.parametrize(("field", "raw"), _garbage_cases())
def test_every_unparsable_number_or_flag_is_refused_by_name(field: str, raw: str) -> None:
    message = refused({env_name(field): raw})
    assert env_name(field) in message and repr(raw) in message


@pytest.mark.parametrize(("variables", "named"), [
    ({"LEXINTEL_PORT": "65536"}, "LEXINTEL_PORT"),
    ({"LEXINTEL_PORT": "-1"}, "LEXINTEL_PORT"),
    ({"LEXINTEL_EXTRACTION_WORKERS": "0"}, "LEXINTEL_EXTRACTION_WORKERS"),
    ({"LEXINTEL_CHUNK_SIZE": "99"}, "LEXINTEL_CHUNK_SIZE"),
    ({"LEXINTEL_CHUNK_OVERLAP": "-1"}, "LEXINTEL_CHUNK_OVERLAP"),
    ({"LEXINTEL_CHUNK_OVERLAP": "600"}, "LEXINTEL_CHUNK_OVERLAP"),  # must stay below CHUNK_SIZE/2 (1200/2)
    ({"LEXINTEL_CHUNK_SIZE": "200", "LEXINTEL_CHUNK_OVERLAP": "100"}, "LEXINTEL_CHUNK_OVERLAP"),
    ({"LEXINTEL_DOCUMENT_TIMEOUT": "0"}, "LEXINTEL_DOCUMENT_TIMEOUT"),
    ({"LEXINTEL_SUBSCRIBER_QUEUE": "7"}, "LEXINTEL_SUBSCRIBER_QUEUE"),
    ({"LEXINTEL_AUTH": "maybe"}, "LEXINTEL_AUTH"),
    ({"LEXINTEL_AUTH": "OFF"}, "LEXINTEL_AUTH"),  # exact words only
    ({"LEXINTEL_SHUTDOWN_GRACE": "-0.5"}, "LEXINTEL_SHUTDOWN_GRACE"),
    ({"LEXINTEL_MIN_FREE_MB": "-1"}, "LEXINTEL_MIN_FREE_MB"),
    ({"LEXINTEL_ZIP_MAX_ENTRIES": "0"}, "LEXINTEL_ZIP_MAX_ENTRIES"),
    ({"LEXINTEL_ZIP_MAX_RATIO": "0.5"}, "LEXINTEL_ZIP_MAX_RATIO"),
    ({"LEXINTEL_UPLOAD_MAX_CHUNK_BYTES": "0"}, "LEXINTEL_UPLOAD_MAX_CHUNK_BYTES"),
    ({"LEXINTEL_UPLOAD_TTL": "0"}, "LEXINTEL_UPLOAD_TTL"),
    ({"LEXINTEL_UPLOAD_SWEEP_INTERVAL": "-5"}, "LEXINTEL_UPLOAD_SWEEP_INTERVAL"),
])
def test_values_that_parse_but_cannot_work_are_refused_by_name(variables: dict[str, str], named: str) -> None:
    message = refused(variables)
    assert named in message
    assert "must" in message  # and says what would be accepted


def test_an_unknown_log_level_is_refused_by_name() -> None:
    assert "LEXINTEL_LOG_LEVEL" in refused({"LEXINTEL_LOG_LEVEL": "LOUD"})


def test_a_log_level_is_accepted_in_any_case_and_stored_as_logging_spells_it() -> None:
    assert Settings.from_env({"LEXINTEL_LOG_LEVEL": "debug"}).log_level == "DEBUG"
