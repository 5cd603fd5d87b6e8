"""Drives `coop console --jsonl` as a subprocess: send protocol lines, wait for the replies."""
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Console:
    def __init__(self, data_dir: Path, admins: tuple[str, ...] = ("admin",), env: dict | None = None):
        command = [sys.executable, "-m", "bot.cli", "console", "--jsonl", "--data-dir", str(data_dir)]
        for admin in admins:
            command += ["--admin", admin]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                        env={**os.environ, **(env or {})})
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        self.seen: list[dict] = []  # every reply so far, in order
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, **message) -> None:
        self.process.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.process.stdin.flush()

    def expect(self, to: str, contains: str = "", timeout: float = 60.0) -> dict:
        """The next reply to `to` whose text contains `contains` (replies to others are kept in `seen`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"console exited; stderr:\n{''.join(self.stderr)[-3000:]}")
            reply = json.loads(line)  # every stdout line must be protocol JSON
            self.seen.append(reply)
            if reply["to"] == to and contains in reply["text"]:
                return reply
        raise AssertionError(f"no reply to {to} containing {contains!r}; seen {self.seen[-5:]}\n"
                             f"stderr:\n{''.join(self.stderr)[-3000:]}")

    def close(self, timeout: float = 120.0) -> int:
        self.process.stdin.close()
        code = self.process.wait(timeout=timeout)
        return code

    def rest(self) -> list[dict]:
        """Replies written after the last expect (call after close)."""
        out = []
        while (line := self.lines.get(timeout=5)) is not None:
            out.append(json.loads(line))
        return out


def button(reply: dict, index: int) -> str:
    return [b for row in reply["buttons"] for b in row][index]["data"]
