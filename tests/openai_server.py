"""Real OpenAI-compatible HTTP servers for tests: a scripted fake, and llama.cpp serving a GGUF."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

Reply = str | Callable[[dict[str, Any]], str]
MODES = ("ok", "error500", "slow", "malformed", "empty")
SSE = "text/event-stream"


class _Handler(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions and /v1/models like the OpenAI API does."""

    protocol_version = "HTTP/1.1"
    server: _FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean: no access log on stderr."""

    def do_GET(self) -> None:
        """List the one fake model."""
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, _error_body("not found", "not_found_error"))
            return
        fake = self.server.fake
        model = {"id": fake.model, "object": "model", "created": 0, "owned_by": "tests"}
        self._send_json(200, {"object": "list", "data": [model]})

    def do_POST(self) -> None:
        """Record the request, then answer it the way the current mode says."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, _error_body("not found", "not_found_error"))
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, _error_body("request body is not JSON", "invalid_request_error"))
            return
        fake = self.server.fake
        mode = fake.record(body, self.headers.get("Authorization"))
        try:
            self._answer(mode, body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout fired during "slow").
            self.close_connection = True

    def _answer(self, mode: str, body: dict[str, Any]) -> None:
        """Write the response for one chat completion request."""
        fake = self.server.fake
        if mode == "slow":
            fake.wait(fake.delay)
        if mode == "error500":
            self._send_json(500, _error_body("the fake server failed on purpose", "server_error"))
            return
        if mode == "malformed" and body.get("stream"):
            self._send_bytes(200, b'data: {"id": "chatcmpl-broken", "choices": [\n\n', SSE)
            return
        if mode == "malformed":
            self._send_bytes(200, b'{"id": "chatcmpl-broken", "choices": [', "application/json")
            return
        text = "" if mode == "empty" else fake.reply_for(body)
        model = str(body.get("model") or fake.model)
        text, stop = _limited(text, body)
        if body.get("stream"):
            self._stream(text, model, body, stop)
        else:
            self._send_json(200, _completion(text, model, body, stop))

    def _stream(self, text: str, model: str, body: dict[str, Any], stop: str = "stop") -> None:
        """Send the reply as server-sent events, a few characters per chunk, then [DONE]."""
        self.send_response(200)
        self.send_header("Content-Type", SSE)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fake",
        }

        def event(delta: dict[str, Any], finish_reason: str | None) -> None:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            chunk = {**base, "choices": [choice]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()

        event({"role": "assistant", "content": ""}, None)
        for piece in _pieces(text):
            event({"content": piece}, None)
        event({}, stop)
        if (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = {**base, "choices": [], "usage": _usage(body, text)}
            self.wfile.write(b"data: " + json.dumps(usage_chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        """Send a JSON body with its length."""
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        """Send a body with its length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class _FakeHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows the FakeOpenAIServer it serves for."""

    daemon_threads = True

    def __init__(self, fake: FakeOpenAIServer) -> None:
        """Bind to an ephemeral port on loopback."""
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeOpenAIServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1 whose behaviour a test scripts via .mode."""

    def __init__(
        self,
        reply: Reply = "Hello from the fake OpenAI server.",
        mode: str = "ok",
        delay: float = 5.0,
        model: str = "fake-model",
    ) -> None:
        """Configure; the server starts on __enter__."""
        self.reply: Reply = reply
        self.mode = mode
        self.delay = delay
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: _FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeOpenAIServer:
        """Start serving in a background thread."""
        self._closing.clear()
        self._httpd = _FakeHTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits up to one poll interval
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving, wake any "slow" request, and free the port."""
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @property
    def port(self) -> int:
        """The ephemeral port the server listens on."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running (use it in a with block)")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The URL to give OpenAI clients, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def record(self, body: dict[str, Any], authorization: str | None) -> str:
        """Store one request and return the mode to answer it with."""
        with self._lock:
            self.requests.append(body)
            self.auth_headers.append(authorization)
            mode = self.mode
        if mode not in MODES:
            raise ValueError(f"unknown FakeOpenAIServer mode {mode!r}; use one of {MODES}")
        return mode

    def reply_for(self, body: dict[str, Any]) -> str:
        """The reply text for a request: .reply itself, or .reply(request_json)."""
        return self.reply(body) if callable(self.reply) else self.reply

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up early when the server shuts down."""
        self._closing.wait(seconds)


def _pieces(text: str, size: int = 4) -> Iterator[str]:
    """Split text into small streaming pieces that join back to exactly text."""
    for start in range(0, len(text), size):
        yield text[start : start + size]


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    """Rough token counts: words in the prompt and in the reply."""
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
    completion = len(text.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _limited(text: str, body: dict[str, Any]) -> tuple[str, str]:
    """The reply cut at the request's token limit (a word a token here) and why it stopped, as a real
    server does: finish_reason 'length' when cut, else 'stop'."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    words = text.split(" ")
    if isinstance(limit, int) and len(words) > limit:
        return " ".join(words[:limit]), "length"
    return text, "stop"


def _completion(text: str, model: str, body: dict[str, Any], stop: str = "stop") -> dict[str, Any]:
    """A complete non-streaming chat.completion object."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": stop,
            }
        ],
        "usage": _usage(body, text),
    }


def _error_body(message: str, kind: str) -> dict[str, Any]:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@contextmanager
def serve_gguf(
    model_path: str | Path, n_ctx: int = 2048, n_threads: int = 1, api_key: str | None = None
) -> Iterator[str]:
    """Serve a GGUF with llama.cpp's own OpenAI-compatible HTTP server; yield its /v1 base URL.

    The server runs in this process (xllamacpp.Server starts llama.cpp's HTTP thread), on
    127.0.0.1 with an ephemeral port. One thread by default: llama.cpp's spinning threads
    degrade badly when the 2 cores are shared with other busy processes.
    """
    import xllamacpp

    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"no GGUF model at {path}")
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {path.stem}
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = n_threads
    params.cpuparams_batch.n_threads = n_threads
    params.sampling.temp = 0.0
    params.verbosity = 1  # errors only
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # ephemeral
    params.ui = False
    if api_key is not None:
        params.api_keys = [api_key]
    server = xllamacpp.Server(params)  # loads the model and starts listening
    try:
        yield f"{server.listening_address}/v1"
    finally:
        del server  # ~Server stops the HTTP thread and frees the model
