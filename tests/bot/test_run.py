"""`coop run` on the embedded defaults: /healthz answers with the database's and the chain's status,
and SIGTERM stops it cleanly."""
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.bot.console import ROOT


def test_coop_run_serves_healthz_until_sigterm(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_"))}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--data-dir", str(tmp_path)], cwd=ROOT,
                               env={**env, "COOP_HTTP_PORT": str(port)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()[-2000:]
                time.sleep(0.2)
        assert answer.status_code == 200
        health = answer.json()
        assert (health["database"], health["chain"]) == ("ok", "ok") and health["block"] > 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
