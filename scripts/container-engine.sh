#!/usr/bin/env bash
# Prints the container engine that can build and run images here (podman, else docker
# with a reachable daemon); otherwise prints why none can, on stderr, and exits 1.
# Used by `make image` and tests/integration/test_container_image.sh.
set -uo pipefail
if command -v podman >/dev/null; then
  if podman info >/dev/null 2>&1; then echo podman; exit 0; fi
  why="podman is installed but 'podman info' fails"
elif command -v docker >/dev/null; then
  if timeout 10 docker info >/dev/null 2>&1; then echo docker; exit 0; fi
  why="docker is installed but no docker daemon answers"
else
  why="neither podman nor docker is installed (apt-get install podman)"
fi
echo "$why" >&2
exit 1
