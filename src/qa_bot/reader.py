"""The evidence reader: a small extractive QA model, trained by the project (train/train_reader.py), that
reads a question against candidate passages and says, for each, where the answer is or that there is none.

Its one score (best answer span against the no-answer option, SQuAD 2.0 style) reranks retrieval,
decides abstention, and its span is the exact answer the reply leads with.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import shutil
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol, get_type_hints

import numpy as np

from qa_bot.config import READER_BACKENDS, Settings
from qa_bot.embeddings import build_once, files_digest
from qa_bot.errors import ConfigError, ModelError
from qa_bot.loaded import Loaded

log = logging.getLogger(__name__)
DEFAULT_READER = Path(__file__).resolve().parents[2] / "models" / "evidence-reader"
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64
# Bumped whenever the reader's ONNX export recipe below changes, so old cached exports are not reused.
READER_EXPORT_VERSION = 1
READER_ONNX_FILE = "model_int8.onnx"
READER_BACKEND_HINT = "set QA_BOT_READER_BACKEND=torch"
NO_SPAN = -99.0  # the score of a context with no span to read, or left unread (extractive.read_in_stages)


@dataclass(frozen=True)
class Reading:
    """What the reader found in one context: score > 0 means a span beats 'no answer'."""

    score: float
    start: int = -1  # character offsets of the answer span inside the context; -1 when none
    end: int = -1

    @property
    def has_span(self) -> bool:
        """Is there a span at all (the context was not empty)?"""
        return self.start >= 0


@dataclass(frozen=True)
class Calibration:
    """How the engine uses one reader's scores, set on data the reader never trained on (train/calibrate.py
    writes <model>/calibration.json), so a retrained reader brings its own (README, *Models*).

    threshold: abstain when the reader's best score over the candidates is under it.
    retrieval_weight: the rerank orders passages by score less weight * ln(1 + retrieval rank).
    runner_up_margin: passages scoring within this of the best also answer (lists, facts spread out).
    read_first, stop_score: the reader reads retrieval's first read_first candidates, and the rest only
        when one of them could still be ranked first with a score up to stop_score (0: read every
        candidate; no stop_score: never stop early; engines.extractive.read_in_stages).
    """

    threshold: float = 0.0  # 'a span beats no answer', until calibrated
    retrieval_weight: float = 0.5
    runner_up_margin: float = 3.0
    read_first: int = 0
    stop_score: float = math.inf

    @classmethod
    def of(cls, folder: Path, backend: str = "torch") -> Calibration:
        """The reader folder's calibration for a backend: calibration-<backend>.json where the backend's
        scores were calibrated apart, else calibration.json; the defaults for what it does not set."""
        path = folder / f"calibration-{backend}.json"
        if not path.is_file():
            path = folder / "calibration.json"
        if not path.is_file():
            return cls()
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
            types = get_type_hints(cls)  # each value as its field's type (read_first a count)
            return cls(**{f.name: types[f.name](values[f.name]) for f in fields(cls) if f.name in values})
        except (ValueError, TypeError, AttributeError) as exc:
            raise ModelError(f"the evidence model's calibration {path} is unreadable ({exc}): run "
                             "`make train` to rebuild it") from exc


class Reader(Protocol):
    """Anything that reads a question against contexts (the trained model; fakes in tests)."""

    def read(self, question: str, contexts: Sequence[str]) -> list[Reading]: ...


class TrainedReader:
    """The project's trained reader, loaded once; int8 dynamic quantization on CPU (measured faster).

    It reads batches of similar length. Known flaw: dynamic quantization scales activations per batch, so a
    passage's score moves with what it is read with (up to 3.6 logits, measured on seed questions). The
    default until session 12; the default now is the onnx-int8 backend, which reads one at a time (README,
    *The reader on ONNX Runtime*)."""

    def __init__(self, path: str | Path = DEFAULT_READER, *, max_length: int = 256, stride: int = 64,
                 batch_size: int = 16, quantize: bool = True) -> None:
        self.path = Path(path)
        self.max_length, self.stride, self.batch_size = max_length, stride, batch_size
        self._lock = threading.Lock()
        self.meta: dict[str, object] = {}
        try:
            import torch
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelError(f"the evidence reader needs torch and transformers: {exc}") from exc
        weights = self.path / "model.safetensors"
        if not weights.is_file():
            raise ModelError(f"the evidence model is missing at {self.path}: run `make train` (or set "
                             "QA_BOT_READER_MODEL to a trained reader folder)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
            model = AutoModelForQuestionAnswering.from_pretrained(str(self.path), dtype=torch.float32)
        except Exception as exc:  # corrupt or incompatible files: one clear message
            raise ModelError(f"the evidence model at {self.path} cannot be loaded ({type(exc).__name__}: "
                             f"{str(exc)[:200]}): run `make train` to rebuild it") from exc
        model.eval()
        if quantize:
            with warnings.catch_warnings():  # torch's notice that its quantized tensors are deprecated
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        self._torch = torch
        card = self.path / "training.json"
        if card.is_file():
            self.meta = json.loads(card.read_text(encoding="utf-8"))
        self.calibration = Calibration.of(self.path)
        self.threshold = self.calibration.threshold

    def read(self, question: str, contexts: Sequence[str]) -> list[Reading]:
        """One Reading per context; long contexts are read in overlapping windows, the best one kept."""
        if not contexts:
            return []
        torch = self._torch
        ids = self.tokenizer(question, add_special_tokens=False)["input_ids"]
        if len(ids) > MAX_QUESTION_TOKENS:  # a very long question must leave room for the context
            question = str(self.tokenizer.decode(ids[:MAX_QUESTION_TOKENS]))
        enc = self.tokenizer([question] * len(contexts), list(contexts), truncation="only_second",
                             max_length=self.max_length, stride=self.stride, return_overflowing_tokens=True,
                             return_offsets_mapping=True, padding=True, return_tensors="np")
        owners = enc["overflow_to_sample_mapping"]
        n = len(owners)
        width = enc["input_ids"].shape[1]
        starts = np.full((n, width), -1e4, dtype=np.float32)
        ends = np.full_like(starts, -1e4)
        lengths = enc["attention_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")  # batches of similar length: little padding
        with self._lock, torch.inference_mode():
            for lo in range(0, n, self.batch_size):
                rows = order[lo : lo + self.batch_size]
                cut = int(lengths[rows].max())
                batch = {key: torch.from_numpy(np.ascontiguousarray(enc[key][rows, :cut]))
                         for key in ("input_ids", "attention_mask", "token_type_ids") if key in enc}
                out = self.model(**batch)
                starts[rows, :cut] = out.start_logits.float().numpy()
                ends[rows, :cut] = out.end_logits.float().numpy()
        readings = []
        for row in range(n):
            seq = enc.sequence_ids(row)
            ctx = np.array([s == 1 for s in seq] + [False] * (starts.shape[1] - len(seq)))
            readings.append(_decode(starts[row], ends[row], ctx, enc["offset_mapping"][row]))
        return _best_per_context(readings, [int(o) for o in owners], len(contexts))


def _best_per_context(readings: Sequence[Reading], owners: Sequence[int], n: int) -> list[Reading]:
    """Of the windows read, the best-scoring one of each of the n contexts (owners[i]: window i's context)."""
    best: list[Reading | None] = [None] * n
    for reading, i in zip(readings, owners, strict=True):
        current = best[i]
        if current is None or reading.score > current.score:
            best[i] = reading
    return [r if r is not None else Reading(NO_SPAN) for r in best]


def _decode(start: np.ndarray, end: np.ndarray, ctx: np.ndarray, offsets: np.ndarray, top: int = 20) -> Reading:
    """The best span (start <= end, at most MAX_ANSWER_TOKENS) against the [CLS] no-answer score."""
    null = float(start[0] + end[0])
    idx = np.flatnonzero(ctx)
    if idx.size == 0:
        return Reading(NO_SPAN)
    s_idx = idx[np.argsort(-start[idx])[:top]]
    e_idx = idx[np.argsort(-end[idx])[:top]]
    best, span = -np.inf, (-1, -1)
    for s in s_idx:
        for e in e_idx:
            if s <= e < s + MAX_ANSWER_TOKENS and start[s] + end[e] > best:
                best, span = float(start[s] + end[e]), (int(s), int(e))
    if span[0] < 0:
        return Reading(NO_SPAN)
    return Reading(round(best - null, 4), int(offsets[span[0]][0]), int(offsets[span[1]][1]))


# ------------------------------------------------------------------ ONNX Runtime


def _missing_model(path: Path) -> ModelError:
    return ModelError(f"the evidence model is missing at {path}: run `make train` (or set "
                      "QA_BOT_READER_MODEL to a trained reader folder)")


def _broken_model(path: Path, exc: BaseException) -> ModelError:
    return ModelError(f"the evidence model at {path} cannot be loaded ({type(exc).__name__}: "
                      f"{str(exc)[:200]}): run `make train` to rebuild it")


def _reader_digest(folder: Path) -> str:
    """Names the export after the exact weights, tokenizer and recipe it came from."""
    return files_digest(folder, f"qa_bot-reader-onnx-export-v{READER_EXPORT_VERSION}",
                        ("config.json", "model.safetensors", "tokenizer.json"))


def export_reader_onnx(path: str | Path, cache_dir: str | Path) -> Path:
    """The folder under cache_dir holding the reader's int8 ONNX export (reader-<digest>), exported once.

    Built as the embedding export is (qa_bot.embeddings.build_once): crash-safe, once.
    """
    folder, cache = Path(path), Path(cache_dir)
    if not (folder / "model.safetensors").is_file():
        raise _missing_model(folder)
    if not (folder / "tokenizer.json").is_file():
        raise _broken_model(folder, FileNotFoundError(f"no tokenizer.json in {folder}"))
    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(f"the onnx-int8 reader backend needs {' and '.join(missing)}: pip install onnx "
                         f"onnxruntime (or {READER_BACKEND_HINT})")
    final = cache / f"reader-{_reader_digest(folder)}"
    try:
        return build_once(final, [READER_ONNX_FILE], lambda tmp: _export_reader_into(folder, tmp),
                          f"the evidence reader {folder}")
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"cannot export the evidence reader {folder} to ONNX ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); {READER_BACKEND_HINT}") from exc


def _export_reader_into(folder: Path, out: Path) -> dict[str, Any]:
    """torch.onnx export of the fp32 reader (start and end logits), ORT's BERT fusions, int8 weights.

    The recipe of the embedding export: fused fp32 graph, then dynamic quantization of MatMul and the
    fused Attention (per-channel QInt8 weights); only the int8 file is kept.
    """
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForQuestionAnswering.from_pretrained(
            str(folder), dtype=torch.float32, local_files_only=True, attn_implementation="eager").eval()
    except Exception as exc:  # corrupt or incompatible files: the message TrainedReader gives
        raise _broken_model(folder, exc) from exc

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            found = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return found.start_logits, found.end_logits

    sample = tokenizer(["who wrote it?", "when was the second bridge built?"],
                       ["an example passage", "a second, longer example passage for the export"],
                       padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    outputs = ["start_logits", "end_logits"]
    raw = out / "raw.onnx"
    with torch.no_grad():
        torch.onnx.export(
            Logits(model), tuple(sample[n] for n in names), str(raw), input_names=names, output_names=outputs,
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + outputs}, opset_version=17, dynamo=False,
        )
    config = model.config
    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=1, use_gpu=False)
    fp32 = out / "model.onnx"
    fused.save_model_to_file(str(fp32))
    raw.unlink()
    quantize_dynamic(str(fp32), str(out / READER_ONNX_FILE), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=False, op_types_to_quantize=["MatMul", "Attention"],
                     extra_options={"DefaultTensorType": 1})
    fp32.unlink()
    return {"source": str(folder), "export_version": READER_EXPORT_VERSION, "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "fused": fused.get_fused_operator_statistics(),
            "int8": "dynamic, QInt8 weights per channel, MatMul + Attention"}


class OnnxReader:
    """The trained reader's int8 ONNX export on ONNX Runtime, tokenised with `tokenizers` alone.

    Reads as TrainedReader does (same windows, same decoding; its own calibration file) but never imports
    torch or transformers once the export exists; the first use exports it (torch, once). One window at a
    time (batch_size 1): a passage's score is its own, not moved by what it is read with (in batches of 16
    it moved by up to 2.7 logits), and here it is faster too (20 seed passages: 159 ms p50 against 236 ms).
    """

    def __init__(self, path: str | Path = DEFAULT_READER, *, cache_dir: str | Path = ".cache/embeddings",
                 max_length: int = 256, stride: int = 64, batch_size: int = 1) -> None:
        self.path = Path(path)
        self.max_length, self.stride, self.batch_size = max_length, stride, batch_size
        self._lock = threading.Lock()
        self.meta: dict[str, object] = {}
        folder = export_reader_onnx(self.path, cache_dir)
        try:
            self.session = self._session(folder / READER_ONNX_FILE)
        except Exception as exc:  # a damaged cache file: export again, once
            log.warning("the cached ONNX reader %s cannot be loaded (%s: %s); exporting it again",
                        folder, type(exc).__name__, str(exc)[:200])
            shutil.rmtree(folder, ignore_errors=True)
            folder = export_reader_onnx(self.path, cache_dir)
            try:
                self.session = self._session(folder / READER_ONNX_FILE)
            except Exception as again:
                raise ModelError(f"cannot load the ONNX evidence reader {folder / READER_ONNX_FILE} "
                                 f"({type(again).__name__}: {str(again)[:200]}); delete {folder} to export it "
                                 f"again, or {READER_BACKEND_HINT}") from again
        self.onnx_file = folder / READER_ONNX_FILE
        self.inputs = {i.name for i in self.session.get_inputs()}
        try:
            from tokenizers import Tokenizer

            self._question_tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        except Exception as exc:
            raise _broken_model(self.path, exc) from exc
        self._question_tokenizer.no_truncation()
        self._question_tokenizer.no_padding()
        # As TrainedReader calls the transformers tokenizer: only the context is cut, into windows of
        # max_length overlapping by stride; padding is done here, per batch.
        self.tokenizer.enable_truncation(max_length, stride=stride, strategy="only_second")
        self.tokenizer.no_padding()
        card = self.path / "training.json"
        if card.is_file():
            self.meta = json.loads(card.read_text(encoding="utf-8"))
        self.calibration = Calibration.of(self.path, "onnx-int8")  # its own: its scores differ from torch's
        self.threshold = self.calibration.threshold

    @staticmethod
    def _session(model_file: Path) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning for more work: spinning took the CPU from the embedding
        # model and Chroma in the same process (bare search p50 17 -> 24 ms beside it, measured).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])

    def windows(self, question: str, contexts: Sequence[str]) -> tuple[list[Any], list[int]]:
        """The tokenizers Encodings read, one per window, and the context each comes from."""
        ids = self._question_tokenizer.encode(question, add_special_tokens=False).ids
        if len(ids) > MAX_QUESTION_TOKENS:  # a very long question must leave room for the context
            question = str(self._question_tokenizer.decode(ids[:MAX_QUESTION_TOKENS]))
        windows: list[Any] = []
        owners: list[int] = []
        for i, encoding in enumerate(self.tokenizer.encode_batch([(question, c) for c in contexts])):
            for window in (encoding, *encoding.overflowing):
                windows.append(window)
                owners.append(i)
        return windows, owners

    def read(self, question: str, contexts: Sequence[str]) -> list[Reading]:
        """One Reading per context; long contexts are read in overlapping windows, the best one kept."""
        if not contexts:
            return []
        windows, owners = self.windows(question, list(contexts))
        n = len(windows)
        lengths = np.array([len(w.ids) for w in windows])
        width = int(lengths.max())
        arrays = {name: np.zeros((n, width), dtype=np.int64)
                  for name in ("input_ids", "attention_mask", "token_type_ids")}
        for row, window in enumerate(windows):
            size = len(window.ids)
            arrays["input_ids"][row, :size] = window.ids
            arrays["attention_mask"][row, :size] = window.attention_mask
            arrays["token_type_ids"][row, :size] = window.type_ids
        starts = np.full((n, width), -1e4, dtype=np.float32)
        ends = np.full_like(starts, -1e4)
        order = np.argsort(lengths, kind="stable")  # batches of similar length: little padding
        with self._lock:
            for lo in range(0, n, self.batch_size):
                rows = order[lo : lo + self.batch_size]
                cut = int(lengths[rows].max())
                feeds = {key: np.ascontiguousarray(value[rows, :cut]) for key, value in arrays.items()
                         if key in self.inputs}
                start_logits, end_logits = self.session.run(["start_logits", "end_logits"], feeds)
                starts[rows, :cut] = start_logits
                ends[rows, :cut] = end_logits
        readings = []
        for row, window in enumerate(windows):
            ctx = np.zeros(width, dtype=bool)
            ctx[: len(window.ids)] = [s == 1 for s in window.sequence_ids]
            readings.append(_decode(starts[row], ends[row], ctx, np.asarray(window.offsets)))
        return _best_per_context(readings, owners, len(contexts))


_readers: Loaded[tuple[str, str, str], TrainedReader | OnnxReader] = Loaded()


def load_reader(path: str | Path | None = None, backend: str = Settings.reader_backend,
                cache_dir: str | Path | None = None) -> TrainedReader | OnnxReader:
    """The trained reader at path (default models/evidence-reader) on a backend, loaded once per process.

    torch: transformers with torch int8 dynamic quantization; onnx-int8: its int8 ONNX export (made once,
    kept under cache_dir, default .cache/embeddings) on ONNX Runtime, without torch or transformers.
    """
    if backend not in READER_BACKENDS:
        raise ConfigError(f"unknown reader backend {backend!r}: use one of {', '.join(READER_BACKENDS)}")
    key_path = str(Path(path or DEFAULT_READER).resolve())
    cache = Path(cache_dir or ".cache/embeddings")
    key = (key_path, backend, "" if backend == "torch" else str(cache.resolve()))
    return _readers.get(key, lambda: TrainedReader(key_path) if backend == "torch"
                        else OnnxReader(key_path, cache_dir=cache))
