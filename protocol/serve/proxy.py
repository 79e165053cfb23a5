"""The JSON-RPC endpoint bots connect to: everything is forwarded to the node, except

- ``eth_sendRawTransaction``: checked (signature, next nonce), queued and landed in the next
  simulated block (the hash is returned at once; the receipt exists once that block has run),
- ``eth_getTransactionCount`` at ``pending``: counts the queued transactions too,
- ``eth_sendTransaction``: refused (nothing here holds keys; sign locally),
- ``perpsim_step`` ``[blocks=1]``: runs blocks (with ``--step``) and returns the status once done,
- ``perpsim_status``: where the run is.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from protocol.serve.deployment import STATUS_METHOD, STEP_METHOD
from protocol.serve.session import ServeError, ServeSession

SERVER_ERROR = -32000
INVALID_PARAMS = -32602
PARSE_ERROR = -32700


class RPCProxy:
    """An HTTP JSON-RPC server on ``host:port`` in front of the node at ``node_url``."""

    def __init__(self, session: ServeSession, node_url: str, host: str, port: int):
        self.session = session
        self.node_url = node_url
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="perpsim-rpc",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = cast(tuple[str, int], self._server.server_address[:2])  # a TCP server's
        return f"http://{host}:{port}"

    def start(self) -> "RPCProxy":
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ one request
    def handle(self, request: Any) -> Any:
        if isinstance(request, list):
            return [self.handle(r) for r in request]
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, INVALID_PARAMS, "not a JSON-RPC request")
        ident, method = request.get("id"), request["method"]
        params = request.get("params") or []
        try:
            if method == STEP_METHOD:
                return _result(ident, self.session.step(_blocks(params)).as_json())
            if method == STATUS_METHOD:
                return _result(ident, self.session.snapshot().as_json())
            if method == "eth_sendRawTransaction":
                return _result(ident, self.session.submit(_first(params), self._mined_nonce))
            if method == "eth_sendTransaction":
                raise ServeError("perpsim serve holds no keys: sign locally and send with "
                                 "eth_sendRawTransaction (cast send --private-key ...)")
            if method == "eth_getTransactionCount" and len(params) > 1 and params[1] == "pending":
                return self._pending_nonce(request, params)
        except ServeError as exc:
            return _error(ident, SERVER_ERROR, str(exc))
        except (TypeError, ValueError) as exc:
            return _error(ident, INVALID_PARAMS, str(exc))
        return self.forward(request)

    def _mined_nonce(self, address: str) -> int:
        reply = self.forward({"jsonrpc": "2.0", "id": 0, "method": "eth_getTransactionCount",
                              "params": [address, "latest"]})
        if "result" not in reply:
            raise ServeError(f"cannot read the nonce of {address}: {reply.get('error')}")
        return int(reply["result"], 16)

    def _pending_nonce(self, request: dict[str, Any], params: list[Any]) -> dict[str, Any]:
        reply: dict[str, Any] = self.forward({**request, "params": [params[0], "latest"]})
        if "result" in reply:
            reply["result"] = hex(int(reply["result"], 16) + self.session.queued_from(params[0]))
        return reply

    def forward(self, request: Any) -> Any:
        body = json.dumps(request).encode()
        http = urllib.request.Request(self.node_url, data=body,
                                      headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(http, timeout=60) as reply:
                return json.loads(reply.read())
        except OSError as exc:
            return _error(request.get("id"), SERVER_ERROR, f"node unreachable: {exc}")


class _Handler(BaseHTTPRequestHandler):
    proxy: RPCProxy
    protocol_version = "HTTP/1.1"  # keep-alive: a bot's client reuses its connection
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            reply: Any = _error(None, PARSE_ERROR, "invalid JSON")
        else:
            reply = self.proxy.handle(request)
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the run's own output


def _result(ident: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "result": result}


def _error(ident: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}


def _first(params: list[Any]) -> Any:
    if not params:
        raise ValueError("missing parameter")
    return params[0]


def _blocks(params: list[Any]) -> int:
    """``perpsim_step``'s optional block count: an integer or a hex quantity string."""
    if not params:
        return 1
    value = params[0]
    if isinstance(value, str):
        return int(value, 0) if value.startswith("0x") else int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"blocks must be an integer, got {value!r}")
    return value
