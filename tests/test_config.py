"""Settings: arguments > QA_BOT_* environment > defaults; bad values fail with ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_bot.config import Settings
from qa_bot.errors import ConfigError


def test_defaults_without_environment() -> None:
    s = Settings.from_env(env={})
    assert s.k == 5
    assert s.backend == "extractive"
    assert s.store_dir == Path("vectorstore")
    assert s.chroma_url is None


def test_environment_overrides_defaults() -> None:
    env = {"QA_BOT_K": "7", "QA_BOT_BACKEND": "openai", "QA_BOT_STORE_DIR": "/tmp/x",
           "QA_BOT_LLM_TIMEOUT": "2.5", "QA_BOT_CHROMA_URL": "http://127.0.0.1:9"}
    s = Settings.from_env(env=env)
    assert (s.k, s.backend, s.store_dir, s.llm_timeout) == (7, "openai", Path("/tmp/x"), 2.5)
    assert s.chroma_url == "http://127.0.0.1:9"


def test_arguments_override_environment() -> None:
    env = {"QA_BOT_K": "7", "QA_BOT_STORE_DIR": "/tmp/x"}
    s = Settings.from_env(env=env, k=3, store_dir="/tmp/y")
    assert s.k == 3
    assert s.store_dir == Path("/tmp/y")


def test_none_argument_keeps_environment_value() -> None:
    s = Settings.from_env(env={"QA_BOT_K": "9"}, k=None)
    assert s.k == 9


def test_empty_variable_is_ignored() -> None:
    assert Settings.from_env(env={"QA_BOT_K": ""}).k == 5


@pytest.mark.parametrize("var", ["QA_BOT_K", "QA_BOT_PORT", "QA_BOT_MAX_FILE_BYTES", "QA_BOT_PASSAGE_SENTENCES"])
def test_bad_int_is_config_error(var: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Settings.from_env(env={var: "five"})


def test_bad_float_is_config_error() -> None:
    with pytest.raises(ConfigError, match="LLM_TIMEOUT"):
        Settings.from_env(env={"QA_BOT_LLM_TIMEOUT": "soon"})


def test_config_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        Settings.from_env(env={"QA_BOT_K": "x"})


@pytest.mark.parametrize(
    "changes",
    [{"k": 0}, {"k": 51}, {"passage_sentences": 2, "passage_overlap": 2}, {"max_question_chars": 5},
     {"llm_timeout": 0.0}],
)
def test_out_of_range_values_rejected(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env={}, **changes)


def test_replace_validates_and_keeps_unchanged() -> None:
    s = Settings.from_env(env={}, k=4)
    t = s.replace(backend="openai", k=None)
    assert (t.k, t.backend) == (4, "openai")
    with pytest.raises(ConfigError):
        s.replace(k=100)


def test_api_key_from_plain_openai_variable_and_masked() -> None:
    s = Settings.from_env(env={"OPENAI_API_KEY": "sk-secret"})
    assert s.openai_api_key == "sk-secret"
    assert "sk-secret" not in repr(s)
    assert s.public_dict()["openai_api_key"] == "***"
    assert Settings.from_env(env={"QA_BOT_OPENAI_API_KEY": "a", "OPENAI_API_KEY": "b"}).openai_api_key == "a"


def test_uploads_beside_store_by_default() -> None:
    s = Settings.from_env(env={}, store_dir=Path("/tmp/st"))
    assert s.uploads == Path("/tmp/st/uploads")
    assert Settings.from_env(env={"QA_BOT_UPLOAD_DIR": "/tmp/up"}).uploads == Path("/tmp/up")


def test_settings_hashable_for_caches() -> None:
    a = Settings.from_env(env={}, k=3)
    b = Settings.from_env(env={}, k=3)
    assert a == b and hash(a) == hash(b)


def test_reader_backend_default_environment_and_choices() -> None:
    assert Settings.from_env(env={}).reader_backend == "onnx-int8"
    assert Settings.from_env(env={"QA_BOT_READER_BACKEND": " Torch "}).reader_backend == "torch"
    chosen = Settings.from_env(env={"QA_BOT_READER_BACKEND": "torch"}, reader_backend="onnx-int8")
    assert chosen.reader_backend == "onnx-int8"
    with pytest.raises(ConfigError, match=r"QA_BOT_READER_BACKEND.*torch, onnx-int8"):
        Settings.from_env(env={"QA_BOT_READER_BACKEND": "onnx"})
    with pytest.raises(ConfigError, match="reader_backend"):
        Settings.from_env(env={}).replace(reader_backend="gpu")
