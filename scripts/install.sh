#!/usr/bin/env bash
# `make install`: binaries, the admin page, the schema, the nginx configuration and the systemd
# units (provd, provd-nginx, provd-prune.timer, provd-alerts, ble-agent) under DESTDIR/PREFIX. Without DESTDIR, as root, it also
# creates the provd system user and provd-web, the group of provd's socket (provd-nginx is in it).
#   LISTEN (0.0.0.0) and PORT (8080): where the installed nginx listens; METRICS_ALLOW (127.0.0.1):
#   who may read /api/metrics without a token.
set -euo pipefail
destdir=${1:-}
prefix=${2:-/usr/local}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

install -d "$destdir$prefix/bin" "$destdir$prefix/lib/provd" "$destdir$prefix/share/provd" \
    "$destdir/etc/provd" "$destdir/lib/systemd/system"
install -m 0755 build/provctl "$destdir$prefix/bin/provctl"
install -m 0755 build/provd "$destdir$prefix/lib/provd/provd"
install -m 0755 build/provd-alerts "$destdir$prefix/lib/provd/provd-alerts"
# PostgreSQL support, loaded by provd and provctl only for a postgresql:// PROVD_DB.
install -m 0644 build/provd-pg.so "$destdir$prefix/lib/provd/provd-pg.so"
# ble-agent (ble-agent/README.md): installed, not enabled (it stops bluetoothd when it starts).
install -m 0755 build/ble-agent "$destdir$prefix/bin/ble-agent"
cp -r www "$destdir$prefix/share/provd/"
cp -r db "$destdir$prefix/share/provd/schema"
rm -rf "$destdir$prefix/share/provd/schema/run" "$destdir$prefix/share/provd/schema/"*.sqlite3* "$destdir$prefix/share/provd/schema/provd.key"

RUN_DIR=/run/provd-nginx SOCKET=/run/provd/provd.sock WWW_DIR="$prefix/share/provd/www" \
    LISTEN=${LISTEN:-0.0.0.0} PORT=${PORT:-8080} NGINX_USER= PROVD_LISTEN= PROVD_UPSTREAM= \
    ACCESS_LOG=/var/log/provd-nginx/access.log METRICS_ALLOW=${METRICS_ALLOW-127.0.0.1} \
    PROVD_FIRMWARE_CACHE=/run/provd/firmware scripts/render-nginx.sh > "$destdir/etc/provd/nginx.conf"
for unit in cgi-bin/provd.service cgi-bin/provd-nginx.service cgi-bin/provd-prune.service \
    cgi-bin/provd-prune.timer cgi-bin/provd-alerts.service ble-agent/ble-agent.service; do
    sed "s|@PREFIX@|$prefix|g" "$unit" > "$destdir/lib/systemd/system/$(basename "$unit")"
done

# The settings file the units read, made once: PROVD_DB from the environment of `make install`
# (a SQLite file by default, or a postgresql:// URI), private since a URI may hold a password.
settings=$destdir/etc/default/provd
if [ ! -e "$settings" ]; then
    install -d "$destdir/etc/default"
    (umask 077 && printf '# provd settings (README: Configuration), read by provd.service, provd-prune.service and provd-alerts.service\nPROVD_DB=%s\nPROVD_KEY_FILE=%s\n' \
        "${PROVD_DB:-/var/lib/provd/provd.sqlite3}" /var/lib/provd/provd.key > "$settings")
fi

if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ]; then
    id provd >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin provd
    getent group provd-web >/dev/null || groupadd --system provd-web
    command -v systemctl >/dev/null && systemctl daemon-reload 2>/dev/null || true
fi
cat <<MSG
installed under $destdir$prefix. Next:
  systemctl enable --now provd provd-nginx
  systemctl enable --now provd-prune.timer (retention; with PostgreSQL also the coming days' partitions)
  with PROVD_ALERT_WEBHOOK in /etc/default/provd: systemctl enable --now provd-alerts
  sudo -u provd env "\$(grep ^PROVD_DB= /etc/default/provd)" $prefix/bin/provctl token create admin
  with a Bluetooth adapter: systemctl enable --now ble-agent (options in /etc/default/ble-agent)
MSG
