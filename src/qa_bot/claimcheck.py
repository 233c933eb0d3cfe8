"""The trained claim checker: does a quote support a sentence a language model wrote from it?

A cross-encoder (sentence-transformers ``CrossEncoder``, one logit) trained here on claims written for
SQuAD 1.1 paragraphs (``make train-claims``: ``train/train_claims.py``). It reads the quote and the claim
together, to see what names, numbers and similarity cannot: a changed relation ("above" for "on par
with", "rejected" for "approved").

Experimental and off by default: measured on the strong-answer fixtures' report part it kept fewer correct
sentences (75.8% against 79.1%) for a few more removed errors (77.2% against 76.2%), so no weights ship;
session 10's retraining on written minimal pairs of changed relations lost more correct sentences than it
removed errors on the development part, so it stays off (README, *The claim check*).
Set QA_BOT_CLAIM_MODEL to a trained checker to use it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from qa_bot.errors import ModelError
from qa_bot.loaded import Loaded

DEFAULT_CHECKER = Path(__file__).resolve().parents[2] / ".cache" / "claim-checker"  # `make train-claims`


class ClaimChecker:
    """Scores (quote, claim) pairs: a logit, above ``threshold`` when the quote supports the claim."""

    def __init__(self, path: str | Path = DEFAULT_CHECKER, *, max_length: int = 160) -> None:
        self.path = Path(path)
        if not (self.path / "model.safetensors").is_file():
            raise ModelError(f"the claim checker is missing at {self.path}: run `make train-claims` (or set "
                             "QA_BOT_CLAIM_MODEL to a trained claim checker folder)")
        try:
            import torch
            from sentence_transformers.cross_encoder import CrossEncoder

            self.model = CrossEncoder(str(self.path), max_length=max_length, device="cpu", local_files_only=True,
                                      model_kwargs={"dtype": torch.float32})
        except Exception as exc:  # corrupt or incompatible files: one clear message
            raise ModelError(f"the claim checker at {self.path} cannot be loaded ({type(exc).__name__}: "
                             f"{str(exc)[:200]}): run `make train-claims` to rebuild it") from exc
        self._torch = torch
        self._lock = threading.Lock()
        calibration = self.path / "calibration.json"
        self.threshold = 0.0  # under this, a sentence is not supported by its quotes
        self.rescue = float("inf")  # at or above this, supported even when its vector similarity is low
        if calibration.is_file():
            values = json.loads(calibration.read_text(encoding="utf-8"))
            self.threshold = float(values["threshold"])
            self.rescue = float(values.get("rescue", self.rescue))

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """One logit per (quote, claim) pair."""
        if not pairs:
            return []
        with self._lock:
            scores = self.model.predict(list(pairs), batch_size=16, activation_fn=self._torch.nn.Identity(),
                                        show_progress_bar=False)
        return [float(s) for s in scores]


_checkers: Loaded[str, ClaimChecker] = Loaded()


def load_claim_checker(path: str | Path | None = None) -> ClaimChecker:
    """The claim checker at path (default .cache/claim-checker), loaded once per process."""
    key = str(Path(path or DEFAULT_CHECKER).resolve())
    return _checkers.get(key, lambda: ClaimChecker(key))
