"""Headless Debian chromium driven over the DevTools protocol, with no module beyond the
standard library: a minimal WebSocket client (RFC 6455: masked text frames out, text frames
in, fragmented or not), Runtime.evaluate to read and act on the page, and screenshots.
Used by tests/browser/test_web_chat.sh."""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.parse


class WebSocket:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (u.path, u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            b = self.sock.recv(1)
            if not b:
                raise ConnectionError("DevTools closed the handshake")
            head += b
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError("DevTools refused the WebSocket: %r" % head)

    def _exact(self, n):
        out = b""
        while len(out) < n:
            b = self.sock.recv(n - len(out))
            if not b:
                raise ConnectionError("DevTools closed the connection")
            out += b
        return out

    def send(self, text):
        data = text.encode()
        n = len(data)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        parts = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)  # the server does not mask
            op = b0 & 0x0F
            if op == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if op == 0x9:  # ping
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()


class Browser:
    """chromium --headless with a fresh profile in tmp; one page target."""

    def __init__(self, tmp, width=1200, height=800):
        exe = shutil.which("chromium")
        self.log = open(os.path.join(tmp, "chromium.log"), "w+")
        self.p = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             "--remote-debugging-port=0", "--user-data-dir=" + os.path.join(tmp, "profile"),
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        port_file = os.path.join(tmp, "profile", "DevToolsActivePort")
        # Generous waits: on a loaded 2-core machine chromium can take many seconds to start.
        for _ in range(900):
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                break
            if self.p.poll() is not None:
                raise RuntimeError("chromium exited: " + self.text())
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        import urllib.request
        page = []
        for _ in range(300):
            try:
                targets = json.loads(urllib.request.urlopen(
                    "http://127.0.0.1:%d/json/list" % port, timeout=5).read())
                page = [t for t in targets if t["type"] == "page"]
                if page:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        if not page:
            raise RuntimeError("chromium offers no page target: " + self.text())
        self.ws = WebSocket(page[0]["webSocketDebuggerUrl"])
        self.next_id = 0
        self.cmd("Page.enable")
        self.cmd("Runtime.enable")

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def cmd(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})

    def eval(self, expr):
        """The value of a JavaScript expression (awaited when it is a promise)."""
        r = self.cmd("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def goto(self, url):
        self.cmd("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && location.href === %s" % json.dumps(url))

    def wait(self, expr, timeout=30):
        """Polls until expr is truthy; returns its value."""
        end = time.time() + timeout
        while time.time() < end:
            v = self.eval(expr)
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError("timed out waiting for: " + expr)

    def type_into(self, selector, text):
        """Sets a field's value as typing would (input events fire)."""
        self.eval("(() => { const e = document.querySelector(%s); e.focus(); e.value = %s;"
                  " e.dispatchEvent(new Event('input', {bubbles: true})); })()"
                  % (json.dumps(selector), json.dumps(text)))

    def click(self, selector):
        self.eval("document.querySelector(%s).click()" % json.dumps(selector))

    def screenshot(self, path):
        data = self.cmd("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.cmd("Browser.close")
        except (OSError, RuntimeError, ConnectionError):
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
