"""Embedding backends: settings, the ONNX export (offline, once, crash-safe), its vectors, and stores that
refuse vectors of another family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from conftest import SEEDS, HashEmbeddings, make_settings
from qa_bot import embeddings as emb
from qa_bot.config import EMBEDDING_BACKENDS, Settings
from qa_bot.errors import ConfigError, StoreError

# Measured on the seeds (README, "Embedding backends"): onnx fp32 gives torch's vectors (cosine 1.00000 on
# every passage and sentence); onnx-int8 mean 0.993, worst 0.958 (a three-word sentence).
ONNX_MIN_COSINE = 0.9999
INT8_MEAN_COSINE = 0.985
INT8_MIN_COSINE = 0.93

# ------------------------------------------------------------------ settings


def test_backend_default_and_environment() -> None:
    assert Settings.from_env(env={}).embedding_backend in EMBEDDING_BACKENDS
    s = Settings.from_env(env={"QA_BOT_EMBEDDING_BACKEND": " ONNX-int8 ", "QA_BOT_EMBEDDING_CACHE": "/tmp/e"})
    assert (s.embedding_backend, s.embedding_cache) == ("onnx-int8", Path("/tmp/e"))
    chosen = Settings.from_env(env={"QA_BOT_EMBEDDING_BACKEND": "onnx"}, embedding_backend="torch")
    assert chosen.embedding_backend == "torch"


def test_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="torch, onnx, onnx-int8"):
        Settings.from_env(env={"QA_BOT_EMBEDDING_BACKEND": "tensorrt"})
    with pytest.raises(ConfigError, match="unknown embedding backend"):
        emb.load_embeddings(backend="openvino")


# ------------------------------------------------------------------ export: offline, once, crash-safe


def _model_folder(tmp_path: Path, pooling: str = "mean") -> Path:
    folder = tmp_path / "tiny-model"
    (folder / "1_Pooling").mkdir(parents=True)
    modules = [{"type": "sentence_transformers.models.Transformer"}, {"type": "sentence_transformers.models.Pooling"},
               {"type": "sentence_transformers.models.Normalize"}]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_cls_token": pooling == "cls"}))
    (folder / "config.json").write_text("{}")
    return folder


def test_missing_onnx_package_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = emb.importlib.util.find_spec
    monkeypatch.setattr(emb.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real_find_spec(name, *a))
    with pytest.raises(ConfigError, match=r"pip install onnx onnxruntime.*QA_BOT_EMBEDDING_BACKEND=torch"):
        emb.export_onnx(_model_folder(tmp_path), tmp_path / "cache")


def test_unsupported_pooling_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mean Pooling"):
        emb.export_onnx(_model_folder(tmp_path, pooling="cls"), tmp_path / "cache")


def test_a_model_name_that_is_no_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="local sentence-transformers folder"):
        emb.export_onnx("some-org/some-model", tmp_path / "cache")


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(folder: Path, out: Path) -> dict[str, object]:
        (out / emb.ONNX_FILES["onnx"]).write_bytes(b"half a model")
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(emb, "_export_into", crash)
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match=r"cannot export.*QA_BOT_EMBEDDING_BACKEND=torch"):
        emb.export_onnx(_model_folder(tmp_path), cache)
    assert list(cache.iterdir()) == []  # no final folder, no temp folder


def test_a_complete_export_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def fake(folder: Path, out: Path) -> dict[str, object]:
        calls.append(out)
        for name in emb.ONNX_FILES.values():
            (out / name).write_bytes(b"model")
        return {}

    monkeypatch.setattr(emb, "_export_into", fake)
    model, cache = _model_folder(tmp_path), tmp_path / "cache"
    first = emb.export_onnx(model, cache)
    assert emb.export_onnx(model, cache) == first and len(calls) == 1
    assert json.loads((first / "export.json").read_text())["seconds"] >= 0
    assert [p.name for p in cache.iterdir()] == [first.name]
    (model / "config.json").write_text('{"changed": true}')  # other weights: another export
    assert emb.export_onnx(model, cache) != first and len(calls) == 2


# ------------------------------------------------------------------ real model: vectors close to torch's


def _seed_texts() -> list[str]:
    from qa_bot.corpus import chunk, load_article

    texts: dict[str, None] = {}
    for path in sorted(SEEDS.glob("*.txt")):
        article = load_article(path)
        for p in chunk(article, 4, 1):
            texts[p.text] = None
            for s, e in p.sentences:
                texts[article.text[s:e]] = None
    return list(texts)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model exported once, offline, into a fresh cache folder."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(("backend", "min_cos", "mean_cos"), [
    ("onnx", ONNX_MIN_COSINE, ONNX_MIN_COSINE), ("onnx-int8", INT8_MIN_COSINE, INT8_MEAN_COSINE)])
def test_onnx_backend_loads_offline_and_matches_torch(
    exported: Path, real_model: Embeddings, backend: str, min_cos: float, mean_cos: float
) -> None:
    model = emb.load_embeddings(backend=backend, cache_dir=exported)
    assert isinstance(model, emb.OnnxEmbeddings)
    assert emb.load_embeddings(backend=backend, cache_dir=exported) is model  # once per process
    folders = [p for p in exported.iterdir()]
    assert len(folders) == 1 and not folders[0].name.startswith(".tmp-")
    assert {p.name for p in folders[0].iterdir()} >= {"model.onnx", "model_int8.onnx", "export.json"}
    texts = _seed_texts()
    ours = np.asarray(model.embed_documents(texts))
    torch = np.asarray(real_model.embed_documents(texts))
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cos = (ours * torch).sum(axis=1)
    assert cos.min() > min_cos and cos.mean() > mean_cos, (backend, cos.min(), cos.mean())
    query = "Who is Vietnam's Permanent Representative to the UN?"
    assert float(np.dot(model.embed_query(query), real_model.embed_query(query))) > min_cos
    assert model.embed_documents([]) == []


# ------------------------------------------------------------------ stores refuse another vector family


def _ingest(store_dir: Path, backend: str, **kwargs: object) -> None:
    from qa_bot.ingest import ingest

    settings = make_settings(store_dir, embedding_model="fake-hash", embedding_backend=backend)
    ingest([sorted(SEEDS.glob("*.txt"))[0]], settings=settings, embeddings=HashEmbeddings(), **kwargs)  # type: ignore[arg-type]


def _open(store_dir: Path, backend: str):  # type: ignore[no-untyped-def]
    from qa_bot.store import open_store

    return open_store(make_settings(store_dir, embedding_model="fake-hash", embedding_backend=backend))


def test_store_records_its_backend_and_accepts_the_same_vectors(tmp_path: Path) -> None:
    _ingest(tmp_path / "store", "torch")
    store = _open(tmp_path / "store", "onnx")  # fp32 ONNX: torch's vectors, so the store stays valid
    store.check_model()
    assert store.passages.metadata["embedding_backend"] == "torch"


def test_store_refuses_int8_vectors_over_fp32_ones_and_rebuild_switches(tmp_path: Path) -> None:
    _ingest(tmp_path / "store", "torch")
    with pytest.raises(StoreError, match=r"built with the torch embedding backend.*qa-bot ingest --rebuild"):
        _open(tmp_path / "store", "onnx-int8").check_model()
    with pytest.raises(StoreError, match="--rebuild"):
        _ingest(tmp_path / "store", "onnx-int8")
    _ingest(tmp_path / "store", "onnx-int8", rebuild=True)
    assert _open(tmp_path / "store", "onnx-int8").passages.metadata["embedding_backend"] == "onnx-int8"
    with pytest.raises(StoreError, match="QA_BOT_EMBEDDING_BACKEND=onnx-int8"):
        _open(tmp_path / "store", "torch").check_model()


def test_a_store_with_no_backend_recorded_was_built_by_torch(tmp_path: Path) -> None:
    _ingest(tmp_path / "store", "torch")
    store = _open(tmp_path / "store", "torch")
    store.passages.modify(metadata={"embedding_model": "fake-hash", "version": "old"})  # as before backends
    fresh = _open(tmp_path / "store", "onnx")
    assert "embedding_backend" not in fresh.passages.metadata
    fresh.check_model()
    with pytest.raises(StoreError, match="torch embedding backend"):
        _open(tmp_path / "store", "onnx-int8").check_model()


def test_eval_stores_are_kept_apart_per_backend(tmp_path: Path) -> None:
    from qa_bot.evaluate import corpus_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    stores = {b: corpus_settings(Settings.from_env(env={}, embedding_backend=b), corpus).store_dir
              for b in EMBEDDING_BACKENDS}
    assert len(set(stores.values())) == len(EMBEDDING_BACKENDS)
    assert all(path.name.endswith(b) for b, path in stores.items())
