#!/usr/bin/env bash
# Writes nginx.conf with its @NAME@ values filled in from the environment (see the defaults
# below). Values are checked to hold only safe characters, since they land in nginx syntax.
# nginx's upstream: the FastCGI hosts of PROVD_UPSTREAM (host:port,...) when set, else the
# workers' PROVD_LISTEN (host:port) when set, else their Unix SOCKET.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${RUN_DIR:?RUN_DIR is required}" "${SOCKET:?SOCKET is required}" "${PORT:?PORT is required}"
WWW_DIR=${WWW_DIR:-$top/www}
CORS_ORIGIN=${CORS_ORIGIN:-*}
DEVICE_RATE=${DEVICE_RATE:-10r/s}
DEVICE_BURST=${DEVICE_BURST:-50}
# One site (a client address) with 1,000 devices polling and logging once a minute sends 2,000
# device calls a minute: SITE_RATE lets that through 1.5 times over, SITE_BURST a whole such
# round at the same instant (a fleet powered up together stays in step).
SITE_RATE=${SITE_RATE:-3000r/m}
SITE_BURST=${SITE_BURST:-2000}
ADMIN_RATE=${ADMIN_RATE:-50r/s}
ADMIN_BURST=${ADMIN_BURST:-200}
CONN_PER_ADDR=${CONN_PER_ADDR:-256}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
ACCESS_LOG=${ACCESS_LOG:-off}
METRICS_ALLOW=${METRICS_ALLOW-127.0.0.1}  # addresses or CIDR ranges, comma-separated; empty: none
LISTEN=${LISTEN:-127.0.0.1}
NGINX_USER=${NGINX_USER:-}   # a master started as root runs its workers as this user
PROVD_LISTEN=${PROVD_LISTEN:-}
PROVD_UPSTREAM=${PROVD_UPSTREAM:-}
# Firmware: the largest upload, and the directory of images provd fills and nginx sends from.
FIRMWARE_MAX=${PROVD_FIRMWARE_MAX:-4194304}
FIRMWARE_CACHE=${PROVD_FIRMWARE_CACHE:-$RUN_DIR/firmware}
FIRMWARE_LOCATION=/_firmware/   # cgi-bin/firmware.h's FIRMWARE_CACHE_LOCATION
USER_LINE=""
[ -n "$NGINX_USER" ] && USER_LINE="user $NGINX_USER;"

check() {
    local name=$1 value=$2 pattern=$3
    if [[ ! "$value" =~ $pattern ]]; then
        echo "render-nginx: $name=\"$value\" has characters nginx.conf cannot take" >&2
        exit 1
    fi
}
host_port='([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):[0-9]{1,5}'
check RUN_DIR "$RUN_DIR" '^/[A-Za-z0-9._/+-]+$'
check SOCKET "$SOCKET" '^/[A-Za-z0-9._/+-]+$'
check WWW_DIR "$WWW_DIR" '^/[A-Za-z0-9._/+-]+$'
check PORT "$PORT" '^[0-9]{1,5}$'
check LISTEN "$LISTEN" '^([0-9.]+|\[[0-9a-fA-F:]+\])$'
check NGINX_USER "$NGINX_USER" '^[a-z_][a-z0-9_-]*$|^$'
check CORS_ORIGIN "$CORS_ORIGIN" '^(\*|https?://[A-Za-z0-9.:-]+)$'
check DEVICE_RATE "$DEVICE_RATE" '^[0-9]+r/[sm]$'
check DEVICE_BURST "$DEVICE_BURST" '^[0-9]+$'
check SITE_RATE "$SITE_RATE" '^[0-9]+r/[sm]$'
check SITE_BURST "$SITE_BURST" '^[0-9]+$'
check ADMIN_RATE "$ADMIN_RATE" '^[0-9]+r/[sm]$'
check ADMIN_BURST "$ADMIN_BURST" '^[0-9]+$'
check CONN_PER_ADDR "$CONN_PER_ADDR" '^[1-9][0-9]*$'
if (( ${#CONN_PER_ADDR} > 5 || CONN_PER_ADDR > 65535 )); then # nginx's limit_conn takes less than 65536
    echo "render-nginx: CONN_PER_ADDR must be 1 to 65535 (not $CONN_PER_ADDR)" >&2
    exit 1
fi
check NGINX_WORKERS "$NGINX_WORKERS" '^(auto|[0-9]+)$'
check ACCESS_LOG "$ACCESS_LOG" '^(off|/[A-Za-z0-9._/+-]+)$'
check PROVD_LISTEN "$PROVD_LISTEN" "^($host_port)?\$"
check PROVD_UPSTREAM "$PROVD_UPSTREAM" "^($host_port(,$host_port)*)?\$"
check FIRMWARE_MAX "$FIRMWARE_MAX" '^[1-9][0-9]{0,7}$'
check FIRMWARE_CACHE "$FIRMWARE_CACHE" '^/[A-Za-z0-9._/+-]+$'
check METRICS_ALLOW "$METRICS_ALLOW" '^([0-9A-Fa-f.:]+(/[0-9]{1,3})?(,[0-9A-Fa-f.:]+(/[0-9]{1,3})?)*)?$'

# The access log in nginx.conf's logfmt format, or off.
ACCESS_LOG_LINE=off
[ "$ACCESS_LOG" != off ] && ACCESS_LOG_LINE="$ACCESS_LOG logfmt"

# One geo line per METRICS_ALLOW entry: that address or range may scrape without a token.
METRICS_ALLOW_LINES=""
IFS=, read -ra allowed <<<"$METRICS_ALLOW"
for addr in "${allowed[@]}"; do
    METRICS_ALLOW_LINES+="${METRICS_ALLOW_LINES:+\\n        }$addr 1;"
done

# One server line each; with several, a host that fails is left alone for fail_timeout while
# nginx's round robin sends to the others (a request it could not hand over goes to the next).
if [ -n "$PROVD_UPSTREAM" ]; then
    UPSTREAM_SERVERS=""
    IFS=, read -ra hosts <<<"$PROVD_UPSTREAM"
    for host in "${hosts[@]}"; do
        UPSTREAM_SERVERS+="${UPSTREAM_SERVERS:+\\n        }server $host max_fails=1 fail_timeout=10s;"
    done
elif [ -n "$PROVD_LISTEN" ]; then
    UPSTREAM_SERVERS="server $PROVD_LISTEN;"
else
    UPSTREAM_SERVERS="server unix:$SOCKET;"
fi

sed -e "s|@USER_LINE@|$USER_LINE|" \
    -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@UPSTREAM_SERVERS@|$UPSTREAM_SERVERS|g" -e "s|@PORT@|$PORT|g" -e "s|@LISTEN@|$LISTEN|g" \
    -e "s|@WWW_DIR@|$WWW_DIR|g" -e "s|@CORS_ORIGIN@|$CORS_ORIGIN|g" \
    -e "s|@DEVICE_RATE@|$DEVICE_RATE|g" -e "s|@DEVICE_BURST@|$DEVICE_BURST|g" \
    -e "s|@SITE_RATE@|$SITE_RATE|g" -e "s|@SITE_BURST@|$SITE_BURST|g" \
    -e "s|@ADMIN_RATE@|$ADMIN_RATE|g" -e "s|@ADMIN_BURST@|$ADMIN_BURST|g" -e "s|@CONN_PER_ADDR@|$CONN_PER_ADDR|g" \
    -e "s|@NGINX_WORKERS@|$NGINX_WORKERS|g" -e "s|@ACCESS_LOG@|$ACCESS_LOG_LINE|g" \
    -e "s|@METRICS_ALLOW@|$METRICS_ALLOW_LINES|g" \
    -e "s|@FIRMWARE_MAX@|$FIRMWARE_MAX|g" -e "s|@FIRMWARE_CACHE@|$FIRMWARE_CACHE|g" \
    -e "s|@FIRMWARE_LOCATION@|$FIRMWARE_LOCATION|g" \
    "$top/nginx.conf"
