"""A `kvspill serve` process for the integration tests: started on a free loopback port,
waited for on /health, and talked to over HTTP (greedy completions with logprobs, /metrics,
waiting for queued stores to reach the tiers). Used by tests/integration/test_server_offload.sh
and tests/gpu/test_gpu_offload.sh."""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

KV_TRANSFER = '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'


class ServerExited(AssertionError):
    """The server exited before answering /health; the message is its log."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """`kvspill serve` (or another listening command: `router`) with args after --host/--port
    (a free port, or the one given) and env added to os.environ; its stderr goes to
    TMP/name.log. Every started server is in Server.running until stop()."""
    running = []

    def __init__(self, name, args, env, tmp, port=None, command="serve"):
        self.name, self.port = name, port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        full_env = dict(os.environ)
        full_env.update(env)
        self.log = open("%s/%s.log" % (tmp, name), "w+")
        self.p = subprocess.Popen([os.environ["KVSPILL_BIN"], command, "--host", "127.0.0.1",
                                   "--port", str(self.port)] + args,
                                  env=full_env, stderr=self.log)
        Server.running.append(self)
        for _ in range(600):
            try:
                if urllib.request.urlopen(self.url + "/health", timeout=5).status == 200:
                    return
            except OSError:
                pass
            if self.p.poll() is not None:
                Server.running.remove(self)
                raise ServerExited(self.dump())
            time.sleep(0.1)
        raise AssertionError(self.dump())

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def dump(self):
        return "%s: %s" % (self.name, self.text())

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            assert r.status == 200, (self.name, path, r.status)
            return json.loads(r.read())

    def complete(self, prompt, salt=None):
        """Greedy tokens, their logprobs and text, and cached_tokens, for token ids."""
        body = {"prompt": prompt, "max_tokens": 6, "temperature": 0, "logprobs": 0}
        if salt:
            body["cache_salt"] = salt
        r = self.post("/v1/completions", body)
        ch = r["choices"][0]
        return ((ch["logprobs"]["tokens"], ch["logprobs"]["token_logprobs"], ch["text"]),
                r["usage"]["prompt_tokens_details"]["cached_tokens"])

    def metrics(self):
        return urllib.request.urlopen(self.url + "/metrics", timeout=30).read().decode()

    def metric(self, name, tier=None):
        lab = r',tier="%s"' % tier if tier else ""
        m = re.search(r'^%s\{model_name="[^"]*"%s\} (\d+)$' % (name, lab), self.metrics(), re.M)
        assert m, (name, tier)
        return int(m.group(1))

    def settle(self):
        """Waits until the queued stores reached the tiers (stores are asynchronous)."""
        for _ in range(600):
            if self.metric("kvspill_offload_write_queue_bytes") == 0:
                return
            time.sleep(0.05)
        raise AssertionError("%s: stores never drained" % self.name)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        assert self.p.wait(timeout=60) == 0, self.dump()
        Server.running.remove(self)

    @staticmethod
    def kill_all():
        for s in list(Server.running):
            s.p.kill()
            s.p.wait()
        Server.running.clear()


def same(a, b, what):
    """Outputs of two runs over the same KV bytes: the same tokens and text, logprobs equal
    to float rounding."""
    assert a[0] == b[0] and a[2] == b[2], (what, a, b)
    assert all(abs(x - y) < 1e-4 for x, y in zip(a[1], b[1])), (what, a[1], b[1])
