"""Configuration: the settings object, and every QA_* variable read and checked in one place."""

from __future__ import annotations

import pickle

import pytest

import qa
from qa.config import MAX_FILE_MB, Environment, ServerSettings, parse_auth, read_environment


def test_no_variable_set_gives_the_defaults() -> None:
    env = read_environment({})
    assert env == Environment()
    assert (env.corpus, env.index, env.model, env.host, env.port, env.auth) == (
        "seeds",
        "embeddings",
        None,
        "127.0.0.1",
        7860,
        None,
    )
    assert env.max_file_mb == MAX_FILE_MB == qa.Settings().max_file_mb
    assert env.server == ServerSettings(concurrency=4, max_upload="64kb", monitoring=False)


def test_every_variable_is_read() -> None:
    env = read_environment(
        {
            "QA_CORPUS": "articles",
            "QA_INDEX": "idx",
            "QA_MODEL": "some/model",
            "QA_HOST": "0.0.0.0",
            "QA_PORT": "8123",
            "QA_AUTH": "ann:s3:cret",
            "QA_MAX_FILE_MB": "2.5",
            "QA_CONCURRENCY": "8",
            "QA_MAX_UPLOAD": "1mb",
            "QA_MONITORING": "1",
            "OTHER": "ignored",
        }
    )
    assert env == Environment(
        "articles", "idx", "some/model", "0.0.0.0", 8123, ("ann", "s3:cret"), 2.5, ServerSettings(8, "1mb", True)
    )


def test_empty_variables_take_the_defaults() -> None:
    names = ("QA_CORPUS", "QA_INDEX", "QA_MODEL", "QA_PORT", "QA_AUTH", "QA_MAX_FILE_MB", "QA_CONCURRENCY")
    assert read_environment(dict.fromkeys(names, "  ")) == Environment()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("QA_PORT", "http", "QA_PORT must be a whole number from 1 to 65535, not 'http'"),
        ("QA_PORT", "70000", "QA_PORT must be a whole number from 1 to 65535"),
        ("QA_CONCURRENCY", "0", "QA_CONCURRENCY must be a whole number from 1 to 64"),
        ("QA_MAX_FILE_MB", "-3", "QA_MAX_FILE_MB must be a positive number of megabytes"),
        ("QA_MAX_FILE_MB", "nan", "QA_MAX_FILE_MB must be a positive number of megabytes"),
        ("QA_AUTH", "nocolon", "QA_AUTH must be USER:PASS, with neither part empty"),
    ],
)
def test_a_bad_variable_is_a_settings_error_naming_it(name: str, value: str, message: str) -> None:
    with pytest.raises(qa.SettingsError, match=message):
        read_environment({name: value})


def test_a_password_is_never_echoed() -> None:
    with pytest.raises(qa.SettingsError) as refused:
        parse_auth(":hunter2", "QA_AUTH")
    assert "hunter2" not in str(refused.value)
    assert parse_auth("ann:s3:cr:et") == ("ann", "s3:cr:et")


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True, "10"])
def test_the_size_limit_is_a_positive_finite_number(value: object) -> None:
    with pytest.raises(qa.SettingsError, match="max_file_mb"):
        qa.Settings(max_file_mb=value)  # type: ignore[arg-type]
    assert qa.Settings(max_file_mb=1e308).max_file_mb == 1e308


def test_settings_travel_to_other_processes_whole() -> None:
    settings = qa.Settings(max_file_mb=3.0, sentences=False, retriever="lexical")
    assert pickle.loads(pickle.dumps(settings)) == settings
