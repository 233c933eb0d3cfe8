"""The Gradio chat page: a thin layer over QABot; the only module that imports gradio."""

from __future__ import annotations

import contextlib
import html
import ipaddress
import logging
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from qa_bot import engines
from qa_bot.config import Settings
from qa_bot.documents import KINDS, SUFFIXES, display_date, parse_day, text_path
from qa_bot.errors import ConfigError, FetchError, NothingToIngestError, QABotError
from qa_bot.fetch import discard, stage
from qa_bot.fetch import save as save_link
from qa_bot.pipeline import REMOVED, QABot, clean_question
from qa_bot.types import Answer, IngestSummary

log = logging.getLogger(__name__)

# Example questions about the bundled seeds, shown only over them: over other articles they would mislead.
BUNDLED_SEEDS = Path(__file__).resolve().parents[2] / "seeds"
EXAMPLES = [
    "Who is Vietnam's Permanent Representative to the United Nations?",
    "What did the 14th National Party Congress say about international integration?",
    "Who won the 2022 FIFA World Cup?",
]
MAX_K = 10
STREAM_DELAY = 0.04  # seconds between streamed sentences of an extractive answer
_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?:\s*\[\d+\])*\s+")

ARTICLE_HINT = (
    '<div class="qa-panel-empty">Click a source or a marker to read the whole article here.</div>'
)
GENERIC_ERROR = "Something went wrong while answering. The error was logged; please try again."

CSS = """
.qa-hidden { display: none !important; }
.qa-scroll { max-height: 440px; overflow-y: auto; text-align: left; padding-right: 4px; }
#qa-sources, #qa-article { text-align: left; }
.qa-panel-empty { color: var(--body-text-color-subdued); font-style: italic; padding: 8px; }
.qa-source { display: block; border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 8px 10px; margin: 0 0 8px 0; cursor: pointer; text-decoration: none !important;
  color: var(--body-text-color) !important; background: var(--background-fill-primary); }
.qa-source:hover { border-color: var(--color-accent); }
.qa-source, .qa-source * { text-align: left !important; }
.qa-source-head { font-weight: 600; margin-bottom: 4px; }
.qa-source-num { display: inline-block; min-width: 1.8em; color: var(--color-accent); }
.qa-source-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.qa-source-passage { font-size: 0.92em; line-height: 1.45; }
.qa-answer-span { text-decoration: underline; text-decoration-thickness: 2px; }
.qa-source mark, #qa-article mark { background: #fde68a; color: #111; padding: 0 2px; border-radius: 2px; }
.qa-marker { font-weight: 600; color: var(--color-accent) !important; cursor: pointer;
  text-decoration: none !important; padding: 0 1px; }
.qa-marker:hover { text-decoration: underline !important; }
.qa-abstain { border-left: 4px solid #d97706; background: rgba(217, 119, 6, 0.10);
  padding: 8px 12px; border-radius: 6px; }
.qa-abstain-title { font-weight: 700; color: #b45309; }
.qa-error { border-left: 4px solid #dc2626; background: rgba(220, 38, 38, 0.08);
  padding: 8px 12px; border-radius: 6px; }
.qa-error-title { font-weight: 700; }
.qa-draft { opacity: 0.75; }
.qa-draft-label { font-style: italic; color: #6b7280; }
.qa-searched { font-size: 0.85em; color: #6b7280; margin-top: 6px; }
.qa-note { font-size: 0.85em; color: #92400e; margin-top: 4px; }
.qa-article-title { font-size: 1.1em; font-weight: 700; margin-bottom: 2px; }
.qa-article-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 8px; }
.qa-article-body { white-space: pre-wrap; line-height: 1.5; font-size: 0.93em; }
.qa-article-body .qa-passage { background: rgba(59, 130, 246, 0.08); }
.qa-asof { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 4px; }
.qa-source-date { font-weight: 600; }
"""

# Clicks on a marker in the chat or a source card become a value in a hidden textbox,
# whose .input event opens the article (a nonce makes repeated clicks count).
CLICK_JS = """
() => {
  if (window.__qaWired) return;
  window.__qaWired = true;
  document.addEventListener('click', (ev) => {
    const el = ev.target && ev.target.closest ? ev.target.closest('a[href*="#qa-cite-"]') : null;
    if (!el) return;
    ev.preventDefault();
    ev.stopPropagation();
    const key = el.getAttribute('href').split('#qa-cite-')[1] || '';
    const box = document.querySelector('#qa-open textarea, #qa-open input');
    if (!box) return;
    box.value = key + ':' + Date.now();
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }, true);
  // Gradio labels each chat message with its raw HTML ("bot's message: <div>…"): a screen reader would
  // read the tags aloud. The label becomes the message's visible text.
  let queued = false;
  const tidy = () => {
    queued = false;
    document.querySelectorAll('#qa-chat [aria-label*="message:"]').forEach((el) => {
      const label = el.getAttribute('aria-label');
      const head = label.slice(0, label.indexOf('message:') + 7);
      const text = (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 500);
      const want = head + ': ' + text;
      if (label !== want) el.setAttribute('aria-label', want);  // set only when it differs: no loop
    });
  };
  // At most once a frame, whatever Gradio changes (streamed sentences change the chat many times).
  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(tidy); } })
    .observe(document.body, { subtree: true, childList: true, characterData: true,
                              attributes: true, attributeFilter: ['aria-label'] });
  tidy();
}
"""

SCROLL_JS = """
() => {
  setTimeout(() => {
    const mark = document.querySelector('#qa-article mark');
    if (mark) mark.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }, 150);
}
"""

COPY_JS = """
(text) => {
  if (!text) return;
  const fallback = () => {
    const area = document.createElement('textarea');
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand('copy'); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).catch(fallback);
  } else { fallback(); }
}
"""


# ---------------------------------------------------------------- rendering


def _esc(text: str) -> str:
    """Untrusted text made inert for HTML."""
    return html.escape(text, quote=True)


def _md_text(text: str) -> str:
    """Untrusted text made inert inside a chat message (always one HTML block, so no Markdown)."""
    return html.escape(text, quote=False).replace("\r", "").replace("\n", "<br>")


def _answer_body(text: str, turn: int) -> str:
    """Answer text with each [n] marker turned into a link that opens its source."""
    parts: list[str] = []
    last = 0
    for m in _MARKER.finditer(text):
        parts.append(_md_text(text[last : m.start()]))
        n = int(m.group(1))
        parts.append(
            f'<a class="qa-marker" href="#qa-cite-{turn}-{n}" title="Open source {n}">[{n}]</a>'
        )
        last = m.end()
    parts.append(_md_text(text[last:]))
    return "".join(parts)


def _sentences(text: str) -> list[str]:
    """Cumulative prefixes of the answer, cut after each sentence and its markers."""
    cuts = [m.end() for m in _SENTENCE_END.finditer(text)]
    return [text[:c].rstrip() for c in cuts if c < len(text)] + [text]


def render_answer(answer: Answer, turn: int, partial: str | None = None) -> str:
    """The chat message for an answer (or a prefix of it while streaming)."""
    if answer.abstained:
        closest = "".join(f"<li>{_md_text(c)}</li>" for c in answer.closest)
        body = (
            '<div class="qa-abstain"><div class="qa-abstain-title">Not in the articles</div>'
            "<div>The articles do not answer this question.</div>"
            + (f"<div>Closest articles:</div><ul>{closest}</ul>" if closest else "")
            + "</div>"
        )
    else:
        body = f'<div class="qa-answer">{_answer_body(answer.text if partial is None else partial, turn)}</div>'
    if partial is None:
        if answer.as_of and not answer.abstained:
            body += f'<div class="qa-asof">As of {_md_text(display_date(answer.as_of))} (the date of [1])</div>'
        if answer.query and answer.query != answer.question:
            body += f'<div class="qa-searched">Searched for: {_md_text(answer.query)}</div>'
        removed = [w for w in answer.warnings if w.startswith(REMOVED)]
        for warning in answer.warnings:
            if warning not in removed:
                body += f'<div class="qa-note">Note: {_md_text(warning)}</div>'
        if removed:
            items = "".join(f"<li>{_md_text(w)}</li>" for w in removed)
            body += (f'<details class="qa-note qa-removed"><summary>{len(removed)} sentence(s) of the model\'s '
                     f"draft were removed (why)</summary><ul>{items}</ul></details>")
    return f"<div>{body}</div>"


def render_draft(draft: str, backend: str) -> str:
    """An unverified LLM draft, visibly labelled as such."""
    return (
        f'<div class="qa-draft"><div class="qa-draft-label">drafting… ({_md_text(backend)}, not yet '
        f"verified against the articles)</div>{_md_text(draft)}</div>"
    )


def render_error(message: str) -> str:
    """An error shown as a chat message."""
    return f'<div class="qa-error"><span class="qa-error-title">Could not answer:</span> {_md_text(message)}</div>'


def _highlight(text: str, start: int, end: int, pstart: int, pend: int) -> str:
    """Escaped text with the passage tinted and the quote in <mark>."""
    pstart, pend = min(pstart, start), max(pend, end)
    if not (0 <= pstart <= start <= end <= pend <= len(text)):
        pstart, pend = start, end
    return (
        _esc(text[:pstart])
        + '<span class="qa-passage">'
        + _esc(text[pstart:start])
        + f"<mark>{_esc(text[start:end])}</mark>"
        + _esc(text[end:pend])
        + "</span>"
        + _esc(text[pend:])
    )


def _score(value: float) -> str:
    return f"{value:.2f}"


class Articles:
    """Finds article files by source id, only inside the seeds and uploads folders."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: dict[str, Path] = {}

    def path(self, source_id: str) -> Path | None:
        """The file for a source id, or None (never a path outside the article folders)."""
        name = Path(source_id).name
        if name != source_id or name.startswith("."):
            return None
        if name in self._cache and self._cache[name].is_file():
            return self._cache[name]
        for folder in (self.settings.uploads, self.settings.seeds_dir):
            candidate = folder / name
            if candidate.is_file():
                self._cache[name] = candidate
                return candidate
        if self.settings.seeds_dir.is_dir():
            for candidate in self.settings.seeds_dir.rglob(name):
                if candidate.is_file():
                    self._cache[name] = candidate
                    return candidate
        return None

    def text(self, source_id: str) -> str | None:
        """The article text exactly as the offsets count it."""
        path = self.path(source_id)
        if path is None or not text_path(path).is_file():
            return None
        with open(text_path(path), encoding="utf-8") as handle:  # a page's or PDF's kept text
            return handle.read()


def _quote_with_answer(c: dict[str, Any]) -> str:
    """The escaped quote with the exact answer the reader found inside it in bold."""
    quote, a, b = c["quote"], int(c.get("answer_start", -1)), int(c.get("answer_end", -1))
    if not c["start"] <= a < b <= c["end"]:
        return _esc(quote)
    a, b = a - c["start"], b - c["start"]
    return _esc(quote[:a]) + f'<strong class="qa-answer-span">{_esc(quote[a:b])}</strong>' + _esc(quote[b:])


def _link(url: str) -> str:
    """A page's own link, made safe: only http(s), escaped, opened in a new tab without a referrer."""
    if not re.match(r"https?://", url or "", re.IGNORECASE):
        return ""
    return f'<a class="qa-link" href="{_esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{_esc(url)}</a>'


def _dated(c: dict[str, Any]) -> str:
    """The source's publication date, for its meta line."""
    return f'<span class="qa-source-date">{_esc(display_date(c["published"]))}</span> · ' if c.get("published") else ""


def render_sources(answer: dict[str, Any] | None, turn: int, articles: Articles) -> str:
    """The sources panel for one answer: title, outlet, quote marked inside its passage, score."""
    if not answer:
        return '<div class="qa-panel-empty">Sources of the selected answer appear here.</div>'
    cites = answer.get("citations") or []
    if not cites:
        closest = answer.get("closest") or []
        note = "This answer has no sources"
        if answer.get("abstained"):
            note = "The articles do not answer this question"
        extra = "".join(f"<li>{_esc(c)}</li>" for c in closest)
        return f'<div class="qa-panel-empty">{note}.</div>' + (
            f'<div class="qa-source-meta">Closest articles:</div><ul>{extra}</ul>' if extra else ""
        )
    cards = []
    for c in cites:
        text = articles.text(c["source_id"])
        if text is not None and text[c["start"] : c["end"]] == c["quote"]:
            pstart = c.get("passage_start", c["start"]) or c["start"]
            pend = c.get("passage_end", c["end"]) or c["end"]
            pstart, pend = min(pstart, c["start"]), max(pend, c["end"])
            shown = (
                _esc(text[pstart : c["start"]])
                + f"<mark>{_quote_with_answer(c)}</mark>"
                + _esc(text[c["end"] : pend])
            )
        else:
            shown = f"<mark>{_quote_with_answer(c)}</mark>"
        outlet = f"{_esc(c['outlet'])} · " if c.get("outlet") else ""
        cards.append(
            f'<a class="qa-source" href="#qa-cite-{turn}-{c["marker"]}" data-marker="{c["marker"]}">'
            f'<div class="qa-source-head"><span class="qa-source-num">[{c["marker"]}]</span>'
            f"{_esc(c['title'])}</div>"
            f'<div class="qa-source-meta">{outlet}{_dated(c)}{_esc(c["source_id"])} · relevance '
            f"{_score(float(c['score']))}"
            + (f' · <span class="qa-source-url">{_esc(c["url"])}</span>' if c.get("url") else "")
            + "</div>"
            f'<div class="qa-source-passage">{shown}</div></a>'
        )
    return '<div class="qa-scroll">' + "".join(cards) + "</div>"


def _shift(text: str, start: int, end: int, quote: str) -> int | None:
    """How far a quote has moved in an article changed since the answer (0: where it was); None when the
    article no longer holds it."""
    if text[start:end] == quote:
        return 0
    found = [m.start() for m in re.finditer(re.escape(quote), text)] if quote else []
    return min(found, key=lambda at: abs(at - start)) - start if found else None


def render_article(citation: dict[str, Any], articles: Articles) -> str:
    """The whole article with the cited passage tinted and the quote marked. An article changed since the
    answer has its quote marked where it now stands, or none, and says so; never other words at old offsets."""
    text = articles.text(citation["source_id"])
    if text is None:
        return '<div class="qa-panel-empty">That article file is no longer available.</div>'
    start, end = citation["start"], citation["end"]
    shift = _shift(text, start, end, citation.get("quote", ""))
    note = ""
    if shift is None:
        body = _esc(text)
        note = ('<div class="qa-note" role="status">This article has changed since this answer and no longer '
                "holds the quoted words: ask again.</div>")
    elif not shift:
        body = _highlight(text, start, end, citation.get("passage_start", 0), citation.get("passage_end", 0))
    else:
        # A moved quote is marked alone: the passage around it may have changed too.
        start, end = start + shift, end + shift
        body = _highlight(text, start, end, start, end)
        note = ('<div class="qa-note" role="status">This article has changed since this answer; the quoted '
                f"words now stand at characters {start}–{end}.</div>")
    outlet = f"{_esc(citation['outlet'])} · " if citation.get("outlet") else ""
    return (
        f'<div class="qa-article-title">[{citation["marker"]}] {_esc(citation["title"])}</div>'
        f'<div class="qa-article-meta">{outlet}{_dated(citation)}{_esc(citation["source_id"])}, characters '
        f"{start}–{end}"
        + (f" · {_link(citation['url'])}" if _link(citation.get("url", "")) else "")
        + "</div>"
        + note
        + f'<div class="qa-scroll"><div class="qa-article-body">{body}</div></div>'
    )


def copy_text(answer: dict[str, Any]) -> str:
    """The answer as plain text followed by its numbered quotes with titles."""
    lines = [answer.get("text", "")]
    if answer.get("as_of") and not answer.get("abstained"):
        lines.append(f"(as of {display_date(answer['as_of'])}, the date of [1])")
    query = answer.get("query")
    if query and query != answer.get("question"):
        lines.append(f"(searched for: {query})")
    cites = answer.get("citations") or []
    if cites:
        lines.append("")
        lines.append("Sources:")
    for c in cites:
        outlet = f", {c['outlet']}" if c.get("outlet") else ""
        dated = f", {display_date(c['published'])}" if c.get("published") else ""
        link = f" {c['url']}" if c.get("url") else ""
        lines.append(
            f"[{c['marker']}] \u201c{c['quote']}\u201d \u2014 {c['title']}{outlet}{dated} ({c['source_id']}){link}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ uploads


def _plain_name(name: str) -> bool:
    """Letters and marks of any script, digits, spaces and . _ - ( ): never a control, format or bidi
    character, a separator other than the space, nor a name that starts with anything but a letter or digit."""
    return (0 < len(name) <= 151 and unicodedata.category(name[0])[0] in "LN"
            and all(unicodedata.category(ch)[0] in "LMN" or ch in " ._()-" for ch in name))


def check_upload(path: Path, name: str, settings: Settings) -> str | None:
    """Why an uploaded file is refused, or None when it may be added."""
    if (
        name != Path(name).name
        or name.startswith(".")
        or not _plain_name(name)
        or ".." in name
    ):
        return "refused: use a plain file name (letters of any script, digits, spaces, . _ - ( )), not hidden"
    if Path(name).suffix.lower() not in SUFFIXES:
        return f"refused: only {KINDS} files can be added"
    size = path.stat().st_size
    if size > settings.max_file_bytes:
        return f"refused: {size:,} bytes is over the {settings.max_file_bytes:,}-byte limit"
    if size == 0:
        return "refused: the file is empty"
    if (settings.seeds_dir / name).exists():
        return "refused: a bundled article already has this name; rename the file"
    return None


def _upload_name(item: Any) -> tuple[Path, str]:
    """The temp path and the original (client-given) name of an uploaded file."""
    path = Path(getattr(item, "name", None) or str(item))
    original = getattr(item, "orig_name", None) or path.name
    # One spelling of each name (macOS hands over decomposed accents: 'Hà' as 'Ha' and a mark).
    return path, unicodedata.normalize("NFC", str(original).replace("\\", "/").rsplit("/", 1)[-1])


# --------------------------------------------------------------------- app


def _engine_choices(settings: Settings) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Dropdown choices labelled with why an engine is unavailable."""
    reasons = engines.availability(settings)
    choices = [
        (name if not why else f"{name} (unavailable: {why})", name) for name, why in reasons.items()
    ]
    return choices, reasons


def _pairs(answers: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a.get("question", ""), a.get("text", "")) for a in answers if a.get("question")]


def build_app(bot: QABot) -> gr.Blocks:
    """The chat page bound to one bot (shared by every visitor of this process)."""
    settings = bot.settings
    articles = Articles(settings)
    choices, reasons = _engine_choices(settings)
    default_engine = (
        settings.backend if not reasons.get(settings.backend, "unknown") else engines.EXTRACTIVE
    )

    def respond(
        message: str,
        history: list[dict[str, Any]],
        answers: list[dict[str, Any]],
        backend: str,
        k: float,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one answer into the chat; errors become chat messages."""
        history = list(history or [])
        answers = list(answers or [])
        turn = len(answers)
        try:
            question = clean_question(message, settings.max_question_chars)
        except ValueError as exc:
            shown = message if isinstance(message, str) and message.strip() else "(empty question)"
            shown = shown if len(shown) <= 500 else shown[:500] + "…"
            history += [
                {"role": "user", "content": f"<div>{_md_text(shown)}</div>"},
                {"role": "assistant", "content": render_error(str(exc))},
            ]
            # The question stays in the box, to be shortened or mended rather than typed again.
            yield history, answers, render_sources(None, 0, articles), ARTICLE_HINT, message if isinstance(
                message, str) else ""
            return
        history.append({"role": "user", "content": f"<div>{_md_text(question)}</div>"})
        history.append(
            {"role": "assistant", "content": '<span class="qa-draft-label">searching…</span>'}
        )
        yield history, answers, gr.skip(), gr.skip(), ""
        name = backend if backend in reasons else engines.EXTRACTIVE
        try:
            final: Answer | None = None
            drafted = False  # an LLM draft was shown: replace it at once with the verified answer
            # Read here so that a wrong date is named by its field on the page.
            first, last = parse_day(since, "“Published from”"), parse_day(until, "“Published until”")
            for event in bot.stream(question, _pairs(answers), backend=name, k=int(k), since=first, until=last):
                if isinstance(event, Answer):
                    final = event
                else:
                    drafted = True
                    history[-1] = {"role": "assistant", "content": render_draft(event, name)}
                    yield history, answers, gr.skip(), gr.skip(), ""
            if final is None:
                raise QABotError("no answer was produced")
            if not drafted and not final.abstained and final.citations:
                for prefix in _sentences(final.text)[:-1]:
                    history[-1] = {
                        "role": "assistant",
                        "content": render_answer(final, turn, prefix),
                    }
                    yield history, answers, gr.skip(), gr.skip(), ""
                    time.sleep(STREAM_DELAY)
            history[-1] = {"role": "assistant", "content": render_answer(final, turn)}
            answers.append(final.to_dict())
            yield history, answers, render_sources(answers[-1], turn, articles), ARTICLE_HINT, ""
        except (QABotError, ValueError) as exc:
            log.warning("question failed: %s: %s", type(exc).__name__, exc)
            history[-1] = {"role": "assistant", "content": render_error(str(exc))}
            # The sources panel shows no earlier answer's sources beside an error; the question goes back
            # into the box (a date to mend, an engine to change).
            yield history, answers, render_sources(None, 0, articles), ARTICLE_HINT, message
        except Exception:
            log.exception("unexpected error while answering")
            history[-1] = {"role": "assistant", "content": render_error(GENERIC_ERROR)}
            yield history, answers, render_sources(None, 0, articles), ARTICLE_HINT, ""

    def open_source(key: str, answers: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
        """Show the clicked citation's answer sources and its whole article."""
        try:
            turn_s, marker_s = key.split(":")[0].split("-")[:2]
            turn, marker = int(turn_s), int(marker_s)
            answer = answers[turn]
            cite = next(c for c in answer.get("citations", []) if int(c["marker"]) == marker)
        except (ValueError, IndexError, StopIteration, KeyError, AttributeError, TypeError):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            return render_sources(answer, turn, articles), render_article(cite, articles), turn
        except Exception:
            log.exception("cannot open article %s", cite.get("source_id"))
            return (
                gr.skip(),
                '<div class="qa-panel-empty">The article could not be opened.</div>',
                turn,
            )

    def ask_api(question: str, backend: str = "extractive", k: int = 5, since: str = "",
                until: str = "") -> dict[str, Any]:
        """Answer one question (since/until: publication dates, optional); Answer.to_dict() or {'error': message}."""
        try:
            name = backend or engines.EXTRACTIVE
            kk = max(1, min(50, int(k or settings.k)))
            return bot.ask(question, backend=name, k=kk, since=since, until=until).to_dict()
        except (QABotError, ValueError) as exc:
            return {"error": str(exc), "question": question if isinstance(question, str) else ""}
        except Exception:
            log.exception("api ask failed")
            return {
                "error": GENERIC_ERROR,
                "question": question if isinstance(question, str) else "",
            }

    def choose_engine(backend: str) -> tuple[Any, str]:
        """Explain an unavailable engine at once instead of failing on the next question."""
        why = reasons.get(backend, "unknown engine")
        if why:
            gr.Warning(f"The {backend} engine is unavailable here: {why}")
            return engines.EXTRACTIVE, (
                f"**{_esc(backend)}** is unavailable here: {_esc(why)}. "
                "Staying with **extractive**."
            )
        return gr.skip(), f"Answer engine: **{_esc(backend)}**."

    def copy_answer(answers: list[dict[str, Any]], selected: int | None) -> str:
        """Text of the selected (default: latest) answer with its numbered quotes."""
        if not answers:
            gr.Info("There is no answer to copy yet.")
            return ""
        index = selected if isinstance(selected, int) and 0 <= selected < len(answers) else -1
        gr.Info("Answer and sources copied to the clipboard.")
        return copy_text(answers[index])

    def add_and_clear(
        files: list[Any] | None, links: str | None = None, progress: gr.Progress = gr.Progress()  # noqa: B008
    ) -> tuple[str, None, str]:
        """add_articles, then the file and link fields emptied (in the same update as the report)."""
        return add_articles(files, links, progress), None, ""

    def add_articles(files: list[Any] | None, links: str | None, progress: gr.Progress) -> str:
        """Check, copy (or fetch) and ingest uploaded articles and links; one line per item."""
        urls = list(dict.fromkeys(u.strip() for u in (links or "").splitlines() if u.strip()))
        if not files and not urls:
            return f"Choose one or more {KINDS} files, or paste links to articles, first."
        lines: list[str] = []
        accepted: list[Path] = []
        label: dict[Path, str] = {}
        try:
            settings.uploads.mkdir(parents=True, exist_ok=True)
            for item in files or []:
                path, name = _upload_name(item)
                why = check_upload(path, name, settings)
                if why:
                    lines.append(f"- `{_esc(name)}`: {why}")
                    continue
                # Staged under its name: it replaces a stored article's file only once it was read.
                target = stage(settings.uploads) / name
                accepted.append(target)
                label[target] = f"`{_esc(name)}`"
                shutil.copyfile(path, target)
            for url in urls:
                progress(0, desc=f"fetching {url[:60]}")
                try:
                    target = save_link(url, settings.uploads, settings)
                except FetchError as exc:
                    lines.append(f"- `{_esc(url[:200])}`: not added: {_esc(str(exc).removeprefix(url[:200] + ': '))}")
                    continue
                accepted.append(target)
                label[target] = f"`{_esc(url[:200])}` (saved as `{_esc(target.name)}`)"
            if accepted:

                def report(done: int, total: int, message: str) -> None:
                    progress((done, max(total, 1)), desc=message or "adding articles")

                summary: IngestSummary | None = None
                try:
                    summary = bot.ingest(accepted, progress=report)
                    failed = list(summary.errors)
                except NothingToIngestError as exc:  # every item refused: each still gets its own line
                    failed = exc.errors
                errors = {e.split(":", 1)[0]: e for e in failed}
                for target in accepted:
                    err = next((e for key, e in errors.items() if Path(key).name == target.name), None)
                    if err or summary is None:
                        why = err.split(": ", 1)[-1] if err else "it could not be read"
                        lines.append(f"- {label[target]}: not added: {_esc(why)}")
                    elif target.name in summary.files_added:
                        lines.append(f"- {label[target]}: added, searchable now")
                    elif target.name in summary.files_changed:
                        lines.append(f"- {label[target]}: updated, searchable now")
                    else:
                        lines.append(f"- {label[target]}: unchanged (already in the store)")
                if summary:
                    lines.append(f"\n{_esc(summary.line())}")
        except (QABotError, ValueError) as exc:
            log.warning("upload failed: %s", exc)
            lines.append(f"Could not add the articles: {_esc(str(exc))}")
        except Exception:
            log.exception("upload failed")
            lines.append("Could not add the articles: an unexpected error was logged.")
        finally:
            for target in accepted:
                discard(target)  # a staged file that was not read into the store (ingest moved the others)
        return "\n".join(lines)

    def clear() -> tuple[list[Any], list[Any], str, str, None]:
        """Forget the conversation."""
        return [], [], render_sources(None, 0, articles), ARTICLE_HINT, None

    with gr.Blocks(title="News QA") as app:
        gr.Markdown(
            "## Ask the news articles\nAnswers quote the articles verbatim; "
            "click a marker like [1] or a source to read the whole article."
        )
        answers_state = gr.State([])
        selected_state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    label="Conversation",
                    height=520,
                    elem_id="qa-chat",
                    sanitize_html=True,
                    render_markdown=True,
                    feedback_options=None,
                    latex_delimiters=[],
                    # No per-message copy: it would copy the answer's HTML ("Copy answer with sources" below).
                    buttons=[],
                )
                with gr.Row():
                    box = gr.Textbox(
                        label="Question",  # hidden, but the box's accessible name
                        placeholder="Ask a question about the articles…",
                        show_label=False,
                        scale=5,
                        elem_id="qa-question",
                        max_lines=4,
                        submit_btn=False,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-ask")
                with gr.Row():
                    clear_btn = gr.Button("Clear chat", size="sm", elem_id="qa-clear")
                    copy_btn = gr.Button("Copy answer with sources", size="sm", elem_id="qa-copy")
                if settings.seeds_dir.resolve() == BUNDLED_SEEDS:
                    gr.Examples(EXAMPLES, inputs=box, label="Example questions")
                with gr.Accordion("Settings", open=False):
                    engine = gr.Dropdown(
                        choices, value=default_engine, label="Answer engine", elem_id="qa-engine"
                    )
                    engine_note = gr.Markdown(f"Answer engine: **{default_engine}**.")
                    with gr.Row():
                        since_box = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD", max_lines=1,
                                               elem_id="qa-since")
                        until_box = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD", max_lines=1,
                                               elem_id="qa-until")
                    k_slider = gr.Slider(
                        1,
                        MAX_K,
                        value=min(settings.k, MAX_K),
                        step=1,
                        label="Passages a language model reads (local and API engines)",
                        elem_id="qa-k",
                    )
                with gr.Accordion("Add articles", open=False):
                    upload = gr.File(
                        file_count="multiple",
                        file_types=list(SUFFIXES),
                        elem_id="qa-upload",
                        label=f"{KINDS} (saved web pages, PDFs), up to {settings.max_file_bytes:,} bytes each",
                    )
                    links = gr.Textbox(label="Links to articles, one per line", placeholder="https://…", lines=2,
                                       elem_id="qa-links")
                    add_btn = gr.Button("Add to the library", elem_id="qa-add")
                    upload_report = gr.Markdown(elem_id="qa-upload-report")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(
                    render_sources(None, 0, articles), elem_id="qa-sources", js_on_load=None
                )
                gr.Markdown("### Article")
                article = gr.HTML(ARTICLE_HINT, elem_id="qa-article", js_on_load=None)
        open_key = gr.Textbox(
            elem_id="qa-open", elem_classes=["qa-hidden"], show_label=False, container=False
        )
        copy_box = gr.Textbox(
            elem_id="qa-copy-text", elem_classes=["qa-hidden"], show_label=False, container=False
        )

        ask_inputs = [box, chat, answers_state, engine, k_slider, since_box, until_box]
        ask_outputs = [chat, answers_state, sources, article, box]
        for trigger in (box.submit, send.click):
            trigger(respond, ask_inputs, ask_outputs, api_visibility="private").then(
                lambda: None, None, selected_state, api_visibility="private"
            )
        open_key.change(
            open_source,
            [open_key, answers_state],
            [sources, article, selected_state],
            api_visibility="private",
        ).then(None, None, None, js=SCROLL_JS)
        for cleared in (clear_btn.click, chat.clear):  # the chat's own bin icon forgets the conversation too
            cleared(clear, None, [chat, answers_state, sources, article, selected_state], api_visibility="private")
        copy_btn.click(
            copy_answer, [answers_state, selected_state], copy_box, api_visibility="private"
        ).then(None, copy_box, None, js=COPY_JS)
        engine.input(choose_engine, engine, [engine, engine_note], api_visibility="private")
        # The chosen files and links are cleared with the report (one update, no race with the next
        # input): the report names each, and the next "Add" does not send them again.
        add_btn.click(add_and_clear, [upload, links], [upload_report, upload, links], api_visibility="private")
        gr.api(ask_api, api_name="ask")
    return app


def _is_loopback(host: str) -> bool:
    """Whether binding to this host keeps the page on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auth(settings: Settings, no_auth: bool) -> tuple[str, str] | None:
    """Credentials for a non-loopback host, or ConfigError when there are none."""
    user, password = os.environ.get("QA_BOT_USERNAME"), os.environ.get("QA_BOT_PASSWORD")
    if user and password:
        return (user, password)
    if _is_loopback(settings.host) or no_auth:
        return None
    raise ConfigError(
        f"refusing to serve on {settings.host}, which other machines can reach, without a password: "
        "set QA_BOT_USERNAME and QA_BOT_PASSWORD, or pass --no-auth to allow it"
    )


def launch(
    app: gr.Blocks,
    settings: Settings,
    *,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    concurrency: int = 4,
) -> str:
    """Queue and launch the page with its CSS and click wiring; returns the local URL."""
    app.queue(default_concurrency_limit=concurrency)
    _, url, _ = app.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=auth,
        prevent_thread_lock=not block,
        show_error=False,
        quiet=not block,
        css=CSS,
        js=CLICK_JS,
        footer_links=["api"],
        allowed_paths=[],
        ssr_mode=False,
    )
    return str(url)


def _few_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before the request threads start. With one arena per thread, memory a
    request freed stays held by its thread's arena: measured, 16 clients through the page grew the server
    by 909 MB with glibc's default, 325 MB with 2 arenas, for the same speed."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(Exception):  # not glibc (musl, macOS): nothing to do
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX


def serve(settings: Settings, no_auth: bool = False) -> None:
    """Serve the page: one bot per process, the store built from seeds/ first if empty."""
    _few_malloc_arenas()
    auth = _auth(settings, no_auth)
    bot = QABot(settings)
    bot.ensure_store()
    bot.warm_up()  # the first visitor does not wait for the models
    log.warning(
        "serving on http://%s:%s%s",
        settings.host,
        settings.port,
        " (password required)" if auth else "",
    )
    launch(build_app(bot), settings, auth=auth, block=True)
