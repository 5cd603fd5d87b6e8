"""The conversation's figures through `coop console --jsonl` on the embedded defaults.

- bot.latency: from writing `/balance` to reading its reply, for a member, sequentially.
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROUNDS = 200


def run() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "console", "--jsonl", "--data-dir", str(Path(tmp) / "data"),
             "--admin", "admin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

        def send(**message) -> None:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()

        def reply() -> dict:
            return json.loads(process.stdout.readline())

        send(**{"from": "admin", "text": "/start", "lang": "en"})
        reply()
        send(**{"from": "admin", "press": "lang:en"})
        reply(), reply()
        send(**{"from": "admin", "text": "/balance"})  # the first creates the wallet
        reply()
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            send(**{"from": "admin", "text": "/balance"})
            reply()
            times.append((time.perf_counter() - started) * 1000)
        process.stdin.close()
        process.wait(timeout=60)
    p95 = statistics.quantiles(times, n=20)[18]
    yield (f"bot.latency: /balance p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms (absolute) "
           "goal p95 < 50 ms")
