#!/usr/bin/python3
"""A static file server for the model-fetch test: HTTP Range, an X-Linked-Etag with the
sha256 (as Hugging Face sends), Bearer-token checks, and a first response that drops the
connection half-way (to test resume).

usage: range_server.py PORTFILE FILE TOKEN LOG
Serves FILE at any path ending with its base name; a path under /org/repo/resolve/main/
needs `Authorization: Bearer TOKEN`. Appends one line per request to LOG."""
import hashlib
import http.server
import os
import sys

port_file, path, token, log = sys.argv[1:5]
data = open(path, "rb").read()
sha = hashlib.sha256(data).hexdigest()
name = os.path.basename(path)
dropped = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range", "")
        with open(log, "a") as f:
            f.write(f"{self.path} range={rng}\n")
        if not self.path.endswith("/" + name):
            return self.send_error(404)
        if "/resolve/main/" in self.path and self.headers.get("Authorization") != f"Bearer {token}":
            return self.send_error(401)
        start = int(rng[len("bytes="):].split("-")[0]) if rng.startswith("bytes=") else 0
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Linked-Etag", f'"{sha}"')
        self.end_headers()
        if not dropped.get(self.path):  # the first transfer of each path breaks half-way
            dropped[self.path] = True
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
