"""Pieces shared by the load harnesses (scripts/soak.py, scripts/torture.py): a throwaway
redis-server, and the slope of a series of RSS samples."""
import socket
import subprocess
import time

from kvspill_server import free_port


class Redis:
    """redis-server on a free loopback port, no persistence, bounded memory; start() again
    after kill() brings it back on the same port."""

    def __init__(self):
        self.port = free_port()
        self.p = None
        self.start()

    def start(self):
        self.p = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no",
                                   "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start on port %d" % self.port)

    def kill(self):
        self.p.kill()
        self.p.wait()


def redis_available():
    return subprocess.run(["sh", "-c", "command -v redis-server"],
                          capture_output=True).returncode == 0


def slope_kb_per_min(points):
    """Least-squares slope of (seconds, kB) samples, in kB per minute."""
    n = len(points)
    if n < 3:
        return 0.0
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    var = sum((p[0] - mx) ** 2 for p in points)
    return 60 * sum((p[0] - mx) * (p[1] - my) for p in points) / var if var else 0.0
