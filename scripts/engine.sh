#!/usr/bin/env bash
# Make sure a Docker engine answers. On Debian as root: install docker.io and
# busybox-static when missing, start dockerd in the background, wait for the socket.
# Elsewhere: say what is missing and how to get it. Exit 0 when an engine answers.
set -u
if docker info >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ] || [ ! -f /etc/debian_version ]; then
  echo "No Docker engine answers. Start it (e.g. 'sudo systemctl start docker' or 'sudo dockerd &')," >&2
  echo "or point DOCKER_HOST at one. On Debian: sudo apt-get install docker.io busybox-static." >&2
  exit 1
fi
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] && ! (file -L /bin/busybox 2>/dev/null | grep -q dynamically) || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} ..." >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "starting dockerd in the background (log: /var/log/runbook-dockerd.log) ..." >&2
  nohup dockerd >/var/log/runbook-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "dockerd did not answer within 60 s; see /var/log/runbook-dockerd.log" >&2
exit 1
