#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/debian-packages that are missing (as root),
# or prints the one apt-get line to run (otherwise). Quiet when nothing is missing.
set -euo pipefail
list="$(dirname "$0")/debian-packages"
missing=()
while read -r pkg cmd; do
    case "$pkg" in ''|'#'*) continue ;; esac
    if [ -n "${cmd:-}" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then continue; fi
    missing+=("$pkg")
done < "$list"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
