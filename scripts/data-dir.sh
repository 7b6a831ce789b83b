#!/usr/bin/env bash
# Makes DIR the private data directory of USER (the user provd's workers run as) and prints its
# absolute path: created 0700 if absent; refused, with the reason, when it is a symbolic link or
# belongs to anyone but USER or the caller (a directory someone else made under /tmp could be
# read or swapped by them). Run as root, it hands a directory of root's to USER, and with it
# the SQLite database files in it, each 0600.
#   data-dir.sh DIR USER
set -euo pipefail
dir=${1:?usage: data-dir.sh DIR USER} user=${2:?usage: data-dir.sh DIR USER}
refuse() { echo "stack: DATA_DIR $dir $*" >&2; exit 1; }

[ -L "$dir" ] && refuse "is a symbolic link: refused (name the directory it points to, if it is yours)"
if [ ! -e "$dir" ]; then
    mkdir -p -m 0700 "$dir"
elif [ ! -d "$dir" ]; then
    refuse "is not a directory"
fi
owner=$(stat -c %U "$dir")
if [ "$owner" != "$user" ] && [ "$owner" != "$(id -un)" ]; then
    refuse "belongs to $owner, not to $user: refused (anyone who owns it can read or replace the database; use a directory of your own)"
fi
chmod 0700 "$dir"
if [ "$(id -u)" -eq 0 ] && [ "$owner" != "$user" ]; then
    chown "$user:" "$dir"
    # A database an earlier stack made as root (never through a link planted in the directory).
    for f in "$dir"/provd.sqlite3 "$dir"/provd.sqlite3-wal "$dir"/provd.sqlite3-shm; do
        [ -f "$f" ] && [ ! -L "$f" ] && chown "$user:" "$f" && chmod 0600 "$f"
    done
fi
cd "$dir" && pwd -P
