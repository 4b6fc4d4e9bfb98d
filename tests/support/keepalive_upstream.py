#!/usr/bin/python3
"""An HTTP/1.1 keep-alive upstream for the router's pool test (test_router_pool.sh): it
numbers its connections and counts the completions each carried, and on request closes a
connection as the next completion arrives on it, or closes its idle connections now.

  keepalive_upstream.py PORT

GET /health: 200, or the status set by /control. GET /conns: {id: {"posts", "open",
"closed_by_client"}}. POST /v1/completions: {"conn": id} (with "close": true, answered with
Connection: close), or with "stream": true three SSE events 0.4 s apart, chunked. POST
/control: {"set": {"health": STATUS, "drop_next_reused": "fin"|"rst"}} or {"close_idle": true}.
"""
import json, os, socket, struct, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
lock = threading.Lock()
conns = {}        # id -> {"posts": n, "closed_by_client": bool, "sock": socket, "busy": bool}
state = {"next": 0, "drop_next_reused": None, "health": 200}

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def setup(self):
        super().setup()
        with lock:
            self.cid = state["next"]; state["next"] += 1
            conns[self.cid] = {"posts": 0, "closed_by_client": False, "sock": self.connection,
                               "busy": False}
    def handle_one_request(self):
        super().handle_one_request()
        if not self.raw_requestline:
            with lock:
                conns[self.cid]["closed_by_client"] = True
    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):  # a connection it closed itself
            pass
        with lock:
            conns[self.cid]["sock"] = None
    def send(self, status, body, ctype="application/json", close=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/health":
            self.send(state["health"], b'{"status":"ok"}')
        elif self.path == "/conns":
            with lock:
                out = {str(k): {"posts": v["posts"], "closed_by_client": v["closed_by_client"],
                                "open": v["sock"] is not None} for k, v in conns.items()}
            self.send(200, json.dumps(out).encode())
        else:
            self.send(404, b"{}")
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/control":
            with lock:
                state.update(body.get("set", {}))
                if body.get("close_idle"):  # the replica's idle timeout, now
                    for k, c in conns.items():
                        if c["sock"] is not None and not c["busy"] and k != self.cid:
                            c["sock"].shutdown(socket.SHUT_RDWR)
            self.send(200, b"{}")
            return
        with lock:
            c = conns[self.cid]
            drop = state["drop_next_reused"] if c["posts"] else None
            if drop:
                state["drop_next_reused"] = None
            c["posts"] += 1
            c["busy"] = True
        try:
            if drop:  # closes as the request arrives: the stale keep-alive race
                if drop == "rst":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                os.close(self.connection.detach())  # now, whatever still refers to it
                self.close_connection = True
            elif body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(3):
                    ev = ('data: {"choices":[{"index":0,"text":"e%d"}]}\n\n' % i).encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                    self.wfile.flush()
                    time.sleep(0.4)
                ev = b"data: [DONE]\n\n"
                self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(ev), ev))
            else:
                self.send(200, json.dumps({"conn": self.cid}).encode(),
                          close=bool(body.get("close")))
        finally:
            with lock:
                c["busy"] = False

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
