"""iot.alert_latency: from publishing the reading that completes a debounce to the alert's line on the console.

`coop console --jsonl` on the embedded defaults (its own MQTT broker, SQLite, anvil); a subscribed member;
a board (paho, QoS 1) publishes water 25.5 °C with timestamps 301 s apart (the warning's debounce is 300 s,
crossed by the readings' own `ts`), and the clock runs from the second publish to the alert's line. Each
round is a new sensor, so every round is a fresh condition; its recovery is read before the next round.
"""
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROUNDS = 40
TIMEOUT = 30.0


def run() -> Iterator[str]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from bot.sensors import MQTT_URL_FILE
    from iot.broker import MqttURL

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "console", "--jsonl", "--data-dir", str(data), "--admin", "admin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "COOP_QUIET_HOURS": ""})
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put((time.perf_counter(), json.loads(line)))
                                         for line in process.stdout], daemon=True).start()

        def send(**message) -> None:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()

        def until(contains: str) -> float:
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                at, reply = lines.get(timeout=TIMEOUT)
                if contains in reply["text"]:
                    return at
            raise RuntimeError(f"bench.alerts: no reply containing {contains!r}")

        send(**{"from": "admin", "text": "/start", "lang": "en"})
        until("Choose")
        send(**{"from": "admin", "press": "lang:en"})
        until("Welcome")
        send(**{"from": "admin", "text": "/alerts on"})
        until("alerts are on")
        for n in range(ROUNDS):  # only registered boards are heard
            send(**{"from": "admin", "text": f"/device add bench tank{n}"})
            until("is registered")

        board = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-board")
        MqttURL.parse((data / MQTT_URL_FILE).read_text().strip()).connect(board)
        board.loop_start()
        times, t0 = [], time.time() - 7200
        for n in range(ROUNDS):
            topic = f"coop/bench/tank{n}/telemetry"

            def publish(seq: int, dt: float, value: float) -> None:
                payload = {"v": 1, "seq": seq, "boot": "b", "ts": t0 + dt, "readings": {"water_temp_c": value}}
                board.publish(topic, json.dumps(payload), qos=1)

            publish(1, 0, 25.5)
            time.sleep(0.05)  # the first reading is in before the one that completes the debounce
            started = time.perf_counter()
            publish(2, 301, 25.5)
            times.append((until(f"(sensor tank{n})") - started) * 1000)
            publish(3, 400, 22.0)
            until("Back to normal")
        board.loop_stop()
        process.stdin.close()
        process.wait(timeout=60)
    p95 = statistics.quantiles(times, n=20)[18]
    yield (f"iot.alert_latency: p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms (absolute) "
           "goal p95 < 1000 ms")


if __name__ == "__main__":
    for line in run():
        print(line)
