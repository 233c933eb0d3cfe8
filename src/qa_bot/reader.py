"""The evidence reader: a small extractive QA model, trained by the project (train/train_reader.py), that
reads a question against candidate passages and says, for each, where the answer is or that there is none.

Its one score (best answer span against the no-answer option, SQuAD 2.0 style) reranks retrieval,
decides abstention, and its span is the exact answer the reply leads with.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from qa_bot.errors import ModelError

log = logging.getLogger(__name__)
DEFAULT_READER = Path(__file__).resolve().parents[2] / "models" / "evidence-reader"
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64


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


class Reader(Protocol):
    """Anything that reads a question against contexts (the trained model; fakes in tests)."""

    def read(self, question: str, contexts: Sequence[str]) -> list[Reading]: ...


class TrainedReader:
    """The project's trained reader, loaded once; int8 dynamic quantization on CPU (measured faster)."""

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
        calibration = self.path / "calibration.json"
        self.threshold = 0.0  # 'a span beats no answer', until calibrated (eval/calibrate.py)
        if calibration.is_file():
            self.threshold = float(json.loads(calibration.read_text(encoding="utf-8"))["threshold"])

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
        best: list[Reading | None] = [None] * len(contexts)
        for row in range(n):
            seq = enc.sequence_ids(row)
            ctx = np.array([s == 1 for s in seq] + [False] * (starts.shape[1] - len(seq)))
            reading = _decode(starts[row], ends[row], ctx, enc["offset_mapping"][row])
            i = int(owners[row])
            current = best[i]
            if current is None or reading.score > current.score:
                best[i] = reading
        return [r if r is not None else Reading(-99.0) for r in best]


def _decode(start: np.ndarray, end: np.ndarray, ctx: np.ndarray, offsets: np.ndarray, top: int = 20) -> Reading:
    """The best span (start <= end, at most MAX_ANSWER_TOKENS) against the [CLS] no-answer score."""
    null = float(start[0] + end[0])
    idx = np.flatnonzero(ctx)
    if idx.size == 0:
        return Reading(-99.0)
    s_idx = idx[np.argsort(-start[idx])[:top]]
    e_idx = idx[np.argsort(-end[idx])[:top]]
    best, span = -np.inf, (-1, -1)
    for s in s_idx:
        for e in e_idx:
            if s <= e < s + MAX_ANSWER_TOKENS and start[s] + end[e] > best:
                best, span = float(start[s] + end[e]), (int(s), int(e))
    if span[0] < 0:
        return Reading(-99.0)
    return Reading(round(best - null, 4), int(offsets[span[0]][0]), int(offsets[span[1]][1]))


_readers: dict[str, TrainedReader] = {}
_readers_lock = threading.Lock()


def load_reader(path: str | Path | None = None) -> TrainedReader:
    """The trained reader at path (default models/evidence-reader), loaded once per process."""
    key = str(Path(path or DEFAULT_READER).resolve())
    with _readers_lock:
        if key not in _readers:
            _readers[key] = TrainedReader(key)
        return _readers[key]
