"""Which SQuAD 1.1 train articles the evidence model trains on, which calibrate it, which are left out."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
SQUAD = DATA / "squad-v1.1-train.json.gz"
# The ten articles of ../shared/data/outside-dev/squad2 (evaluation): never trained or calibrated on.
EVAL_TITLES = frozenset({
    "Beyoncé", "Frédéric_Chopin", "Sino-Tibetan_relations_during_the_Ming_dynasty", "IPod",
    "The_Legend_of_Zelda:_Twilight_Princess", "Spectre_(2015_film)", "2008_Sichuan_earthquake",
    "New_York_City", "To_Kill_a_Mockingbird", "Solar_energy",
})
CALIBRATION_SHARE = 0.06


def role(title: str) -> str:
    """'eval', 'calibrate' or 'train', fixed by a hash of the title (not by anything the model did)."""
    if title in EVAL_TITLES:
        return "eval"
    h = int(hashlib.sha256(title.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "calibrate" if h < CALIBRATION_SHARE else "train"


def articles(which: str) -> list[dict[str, Any]]:
    """The SQuAD articles of one role."""
    with gzip.open(SQUAD, "rt", encoding="utf-8") as fh:
        data = json.load(fh)["data"]
    return [a for a in data if role(a["title"]) == which]
