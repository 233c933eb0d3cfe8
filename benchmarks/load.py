"""Load test of the page's API: N concurrent gradio_client clients against `qa-bot serve` on loopback.

Usage:  .venv/bin/python benchmarks/load.py [--clients 16] [--questions 1000] [--rss-bound-mb 200]

Starts `qa-bot serve` on 127.0.0.1 and a free port with a fresh store in a temp folder (built from
seeds/ on start), warms it up, then sends questions from eval/questions.jsonl round-robin from the
client threads to api_name "/ask". Reports errors (an exception, an {"error": ...} reply, or an
answer that is neither cited nor an abstention), p50/p95/max latency, throughput, and the server
process's RSS before and after. Exit status 1 when there was any error or RSS grew past the bound.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20


def questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows]


def wait_up(url: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"qa-bot serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"qa-bot serve did not come up within {seconds:.0f}s")


def check(result: Any) -> str | None:
    """None when the reply is a valid answer, else what is wrong with it."""
    if not isinstance(result, dict):
        return f"not a dict: {type(result).__name__}"
    if "error" in result:
        return f"error reply: {result['error']}"
    if not result.get("text"):
        return "empty text"
    if not result.get("abstained") and not result.get("citations"):
        return "neither cited nor abstained"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--rss-bound-mb", type=float, default=200.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    pool = questions()
    work = [pool[i % len(pool)] for i in range(args.questions)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
           "GRADIO_ANALYTICS_ENABLED": "False", "QA_BOT_SEEDS_DIR": str(ROOT / "seeds")}
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        server = subprocess.Popen(
            [str(BIN / "qa-bot"), "serve", "--store", str(Path(tmp) / "store"), "--host", "127.0.0.1",
             "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            wait_up(url, server, 300)
            warm = Client(url, verbose=False)
            for q in pool[:8]:
                warm.predict(q, "extractive", 5, api_name="/ask")
            rss_before = rss_mb(server.pid)

            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            next_index = [0]

            def client_loop() -> None:
                client = Client(url, verbose=False)
                while True:
                    with lock:
                        if next_index[0] >= len(work):
                            return
                        q = work[next_index[0]]
                        next_index[0] += 1
                    started = time.perf_counter()
                    try:
                        problem = check(client.predict(q, "extractive", 5, api_name="/ask"))
                    except Exception as exc:
                        problem = f"{type(exc).__name__}: {exc}"
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed)
                        if problem:
                            errors.append(f"{q[:60]!r}: {problem}")

            started = time.perf_counter()
            threads = [threading.Thread(target=client_loop, name=f"client-{i}") for i in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=3600)
            wall = time.perf_counter() - started
            rss_after = rss_mb(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)

    cuts = statistics.quantiles(latencies, n=100)
    report = {
        "clients": args.clients,
        "requests": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:5],
        "p50_s": round(cuts[49], 3),
        "p95_s": round(cuts[94], 3),
        "max_s": round(max(latencies), 3),
        "wall_s": round(wall, 1),
        "throughput_qps": round(len(latencies) / wall, 2),
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
        "rss_growth_mb": round(rss_after - rss_before, 1),
        "rss_bound_mb": args.rss_bound_mb,
    }
    ok = not errors and len(latencies) == len(work) and report["rss_growth_mb"] < args.rss_bound_mb
    report["ok"] = ok
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:16} {value}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
