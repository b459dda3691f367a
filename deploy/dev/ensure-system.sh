#!/usr/bin/env bash
# Installs the Debian packages named as arguments when they are missing (as root), or says
# exactly which to install and stops. Used by `make demo` and `make test`.
set -euo pipefail
missing=()
for pkg in "$@"; do
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  else
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "dolbom needs these system packages (Debian names): ${missing[*]} — install them with your package manager, then run make again." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "dolbom needs these Debian packages: ${missing[*]} — run: sudo apt-get install -y ${missing[*]}  (then run make again)" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
