"""A TCP forwarder to a node that a test can switch off and on: a node outage without stopping the node."""
import socket
import threading
from urllib.parse import urlparse


class Forwarder:
    """Listens on a free loopback port and pipes each connection to `target_url`'s host and port while
    `up`; while down it accepts and closes at once (what a client sees of a node that is away)."""

    def __init__(self, target_url: str):
        target = urlparse(target_url)
        self.target = (target.hostname, target.port)
        self.up = True
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._closing = False

    def __enter__(self) -> "Forwarder":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing = True
        self._server.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while self.up and (data := source.recv(65536)):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass


class StaleReceipts:
    """A JSON-RPC proxy to a node that, once armed, answers the next batch holding the sender's nonce count
    as a node answering a batch's requests concurrently may: the count already includes a transaction just
    mined, its receipt not yet (null)."""

    def __init__(self, target_url: str):
        import json
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        proxy = self
        self.armed = False

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = urllib.request.Request(target_url, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as answer:
                    data = json.loads(answer.read())
                calls = json.loads(body)
                if proxy.armed and isinstance(calls, list) and any(
                        c["method"] == "eth_getTransactionCount" for c in calls):
                    proxy.armed = False
                    hidden = {c["id"] for c in calls if c["method"] == "eth_getTransactionReceipt"}
                    data = [{**r, "result": None} if r.get("id") in hidden else r for r in data]
                out = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "StaleReceipts":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
