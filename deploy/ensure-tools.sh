#!/usr/bin/env bash
# Make sure the system programs the test suite talks to are installed.
# Each entry: the command to look for, then the Debian package that provides it.
set -euo pipefail
TOOLS=(
  "mosquitto mosquitto"
  "tshark tshark"
  "ffmpeg ffmpeg"
  "systemd-analyze systemd"
  "node nodejs"
  "npm npm"
)
missing=()
for entry in "${TOOLS[@]}"; do
  read -r cmd pkg <<<"$entry"
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "error: the tests need: ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
