# Shell helpers of the integration tests that start servers on loopback (sourced).

# DIR: a fresh temporary directory; PIDS: the processes a test started (append with
# PIDS+=($!)); both gone when the test exits, however it exits.
DIR=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 $p 2>/dev/null || true; done; rm -rf "$DIR"' EXIT

# A free TCP port on 127.0.0.1.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to 20 s for URL/health to answer 2xx; prints LOG and exits when PID dies first.
wait_up() { # url pid log
  for _ in $(seq 200); do
    curl -sf "$1/health" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3"; exit 1; }
    sleep 0.1
  done
  echo "not up: $1"; cat "$3"; exit 1
}
