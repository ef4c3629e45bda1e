"""Configuration: the settings object, and the QA_* variables read once and each checked where it is used."""

from __future__ import annotations

import pickle

import pytest

import qa
from qa.config import MAX_FILE_MB, ServerSettings, parse_auth, read_environment


def test_no_variable_set_gives_the_defaults() -> None:
    env = read_environment({})
    assert (env.corpus, env.index, env.model, env.host, env.port, env.auth) == (
        "seeds",
        "embeddings",
        None,
        "127.0.0.1",
        7860,
        None,
    )
    assert env.max_file_mb == MAX_FILE_MB == qa.Settings().max_file_mb
    assert env.server == ServerSettings(concurrency=4, max_upload=None, monitoring=False)
    assert (env.server.read_only, env.server.upload_files, env.server.upload_folder) == (False, 20, "uploads")


def test_every_variable_is_read_and_only_those() -> None:
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
            "QA_READ_ONLY": "1",
            "QA_UPLOAD_FILES": "5",
            "QA_UPLOAD_FOLDER": "./from-the-page/",
            "OTHER": "ignored",
        }
    )
    assert "OTHER" not in env.values
    assert (env.corpus, env.index, env.model, env.host, env.port, env.auth, env.max_file_mb) == (
        "articles",
        "idx",
        "some/model",
        "0.0.0.0",
        8123,
        ("ann", "s3:cret"),
        2.5,
    )
    assert env.server == ServerSettings(8, "1mb", True, read_only=True, upload_files=5, upload_folder="from-the-page")


def test_blank_variables_take_the_defaults_and_values_are_kept_as_set() -> None:
    names = ("QA_CORPUS", "QA_INDEX", "QA_MODEL", "QA_PORT", "QA_AUTH", "QA_MAX_FILE_MB", "QA_CONCURRENCY")
    blank = read_environment(dict.fromkeys(names, "  "))
    assert (blank.corpus, blank.index, blank.model, blank.port, blank.auth, blank.max_file_mb) == (
        "seeds",
        "embeddings",
        None,
        7860,
        None,
        MAX_FILE_MB,
    )
    # A password's spaces are its own.
    assert read_environment({"QA_AUTH": " admin:secret  "}).auth == (" admin", "secret  ")


@pytest.mark.parametrize(
    ("name", "value", "read", "message"),
    [
        ("QA_PORT", "http", "port", "QA_PORT must be a whole number from 1 to 65535, not 'http'"),
        ("QA_PORT", "70000", "port", "QA_PORT must be a whole number from 1 to 65535"),
        ("QA_PORT", "1" * 5000, "port", "QA_PORT must be a whole number from 1 to 65535"),
        ("QA_CONCURRENCY", "0", "server", "QA_CONCURRENCY must be a whole number from 1 to 64"),
        ("QA_UPLOAD_FILES", "0", "server", "QA_UPLOAD_FILES must be a whole number from 1 to 1000"),
        ("QA_UPLOAD_FOLDER", "../up", "server", "QA_UPLOAD_FOLDER must be a folder inside the corpus"),
        ("QA_UPLOAD_FOLDER", "/srv/up", "server", "QA_UPLOAD_FOLDER must be a folder inside the corpus"),
        ("QA_UPLOAD_FOLDER", "a/.git", "server", "QA_UPLOAD_FOLDER must be a folder inside the corpus"),
        ("QA_MAX_FILE_MB", "-3", "max_file_mb", "QA_MAX_FILE_MB must be a positive number of megabytes"),
        ("QA_MAX_FILE_MB", "nan", "max_file_mb", "QA_MAX_FILE_MB must be a positive number of megabytes"),
        ("QA_AUTH", "nocolon", "auth", "QA_AUTH must be USER:PASS, with neither part empty"),
    ],
)
def test_a_bad_variable_is_a_settings_error_where_it_is_read(name: str, value: str, read: str, message: str) -> None:
    env = read_environment({name: value})
    with pytest.raises(qa.SettingsError, match=message):
        getattr(env, read)
    # The others read as ever.
    assert env.corpus == "seeds" and env.index == "embeddings"


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


def test_sentences_are_kept_as_the_index_has_them_unless_chosen() -> None:
    assert qa.Settings().sentences is None
    assert qa.Settings(sentences=False).sentences is False
    with pytest.raises(qa.SettingsError, match="sentences must be True or False"):
        qa.Settings(sentences="yes")  # type: ignore[arg-type]


def test_settings_travel_to_other_processes_whole() -> None:
    settings = qa.Settings(max_file_mb=3.0, sentences=False, retriever="lexical")
    assert pickle.loads(pickle.dumps(settings)) == settings
