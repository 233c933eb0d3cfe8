"""Prompt files from prompts/, loaded once, their placeholders checked at load time."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa_bot.errors import ConfigError

REQUIRED = {
    "system": set(),
    "answer": {"sources", "question"},
    "followup": {"history", "question"},
}


def prompts_dir() -> Path:
    """prompts/ of the working folder, else the one beside the source tree."""
    here = Path("prompts")
    if (here / "answer.txt").exists():
        return here
    return Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class Prompts:
    """The three prompt texts."""

    system: str
    answer: str
    followup: str


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@lru_cache(maxsize=4)
def load_prompts(folder: Path | None = None) -> Prompts:
    """Read and check the prompt files; a missing or extra placeholder is a ConfigError."""
    folder = folder or prompts_dir()
    texts: dict[str, str] = {}
    for name, needed in REQUIRED.items():
        path = folder / f"{name}.txt"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"prompt file {path} cannot be read: {exc}") from exc
        try:
            found = _fields(text)
        except ValueError as exc:
            raise ConfigError(f"prompt file {path} has a broken placeholder: {exc}") from exc
        if found != needed:
            raise ConfigError(
                f"prompt file {path} must use the placeholders {sorted(needed)}, found {sorted(found)}"
            )
        texts[name] = text.strip()
    return Prompts(**texts)
