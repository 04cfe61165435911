#!/usr/bin/env bash
# System packages the test suite uses (Debian, as root): the Docker engine and static
# busybox, docker-compose 1.29 (the compose oracle), real PostgreSQL, Redis and ZooKeeper servers, Chromium for browser tests,
# openssh-server (the ssh:// engine test runs its own sshd on 127.0.0.1).
set -u
[ -f /etc/debian_version ] && [ "$(id -u)" = "0" ] || { echo "test-deps: not Debian/root; install docker.io docker-compose busybox-static postgresql redis-server zookeeper chromium openssh-server yourself" >&2; exit 0; }
need=()
for pkg in docker.io docker-compose busybox-static postgresql redis-server zookeeper chromium chromium-driver file procps openssh-server; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} ..." >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts services on install where it can; the tests start their own on other ports.
exit 0
