#!/usr/bin/env bash
# Give the docker runner's tests a Docker engine: install docker.io if it is missing
# and start dockerd if no engine answers. Idempotent. It never fails CI: when Docker
# cannot be had it says why and exits 0, and tests/test_docker_runner.py skips.
# Prints one line saying what it did.
set -euo pipefail

LOG=/var/log/dockerd.log
WAIT_S=60

say() { echo "ci: docker: $*"; exit 0; }
answers() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

answers && say "an engine already answers; nothing to do"

did=""
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || say "docker.io is not installed and this is not root; the docker tests will skip"
  command -v apt-get >/dev/null 2>&1 || say "docker.io is not installed and there is no apt-get; the docker tests will skip"
  apt_log="$(mktemp)"
  install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >"$apt_log" 2>&1; }
  if ! install; then
    # The package lists may be missing or stale: refresh them once and retry.
    apt-get update -qq >"$apt_log" 2>&1 || true
    install || say "apt-get install docker.io failed ($(tail -n 1 "$apt_log")); the docker tests will skip"
  fi
  did="installed docker.io"
  # The CLI may reach an engine that was there all along (a mounted socket).
  answers && say "$did; an engine already answers"
fi

[ "$(id -u)" = 0 ] || say "${did:+$did; }no engine answers and only root can start dockerd; the docker tests will skip"

if ! pgrep -x dockerd >/dev/null 2>&1; then
  # A pid file left by a daemon that died keeps a new one from starting.
  rm -f /var/run/docker.pid
  if command -v setsid >/dev/null 2>&1; then
    setsid -f dockerd --iptables=false --bridge=none </dev/null >"$LOG" 2>&1
  else
    nohup dockerd --iptables=false --bridge=none </dev/null >"$LOG" 2>&1 &
  fi
  did="${did:+$did, }started dockerd (log $LOG)"
else
  did="${did:+$did, }dockerd was already starting"
fi

for _ in $(seq "$WAIT_S"); do
  answers && say "$did; the engine answers"
  sleep 1
done
say "$did but no engine answered within ${WAIT_S} s ($(tail -n 1 "$LOG" 2>/dev/null || echo 'no log')); the docker tests will skip"
