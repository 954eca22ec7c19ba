"""A local HTTP receiver standing in for a Slack incoming webhook (loopback only)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The path plays the part of a Slack webhook's secret token.
SECRET_PATH = "/services/T0000/B0000/s3cr3t-t0ken"


class Receiver:
    def __init__(self):
        self.received: list[dict] = []
        self.status = 200  # what the receiver answers: set to 500 to refuse alerts
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == SECRET_PATH and receiver.status == 200:
                    receiver.received.append(json.loads(body))
                self.send_response(receiver.status if self.path == SECRET_PATH else 404)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}{SECRET_PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def of_kind(self, kind: str) -> list[dict]:
        return [a for a in self.received if a.get("kind") == kind]

    def close(self):
        self._server.shutdown()
        self._server.server_close()
