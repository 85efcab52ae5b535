#!/bin/sh
# Entry point of the Prometheus image: renders prometheus.yml from the
# environment, then runs Prometheus on it. POSIX sh: the base image has
# busybox, not bash.
set -eu

usage() {
  cat <<'USAGE'
Usage: prometheus-entrypoint [--help] [PROMETHEUS_FLAGS...]

Renders /etc/prometheus/prometheus.yml.tmpl into $PROMETHEUS_CONFIG and
execs Prometheus with it; extra arguments are passed to Prometheus.

Environment:
  SCRAPE_DNS_NAME     (required) Cloud Map name of the Connect tasks,
                      e.g. connect.mm2.local
  SCRAPE_PORT         connect-sidecar metrics port (default 9400)
  SCRAPE_INTERVAL     scrape and evaluation interval (default 30s)
  MM2_ENVIRONMENT     external label mm2_environment (default mm2)
  ALERTMANAGER_ADDRESS  host:port of an Alertmanager (optional)
  PROMETHEUS_RETENTION  TSDB retention time (default 15d)
  PROMETHEUS_CONFIG   where to write the rendered file (default /tmp/prometheus.yml)
USAGE
}

fail() {
  echo "prometheus-entrypoint: $*" >&2
  exit 1
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
esac

template="${PROMETHEUS_TEMPLATE:-/etc/prometheus/prometheus.yml.tmpl}"
config="${PROMETHEUS_CONFIG:-/tmp/prometheus.yml}"
dns_name="${SCRAPE_DNS_NAME:-}"
port="${SCRAPE_PORT:-9400}"
interval="${SCRAPE_INTERVAL:-30s}"
environment="${MM2_ENVIRONMENT:-mm2}"
alertmanager="${ALERTMANAGER_ADDRESS:-}"

[ -n "$dns_name" ] || fail "SCRAPE_DNS_NAME is not set: give the Cloud Map name of the Connect tasks (e.g. connect.mm2.local)"
printf '%s' "$dns_name" | grep -Eq '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$' \
  || fail "SCRAPE_DNS_NAME=${dns_name}: not a DNS name"
if ! printf '%s' "$port" | grep -Eq '^[0-9]{1,5}$' || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
  fail "SCRAPE_PORT=${port}: must be a port number (1-65535)"
fi
printf '%s' "$interval" | grep -Eq '^[0-9]+(ms|s|m|h)$' \
  || fail "SCRAPE_INTERVAL=${interval}: must be a duration such as 30s or 1m"
printf '%s' "$environment" | grep -Eq '^[A-Za-z0-9_.:-]+$' \
  || fail "MM2_ENVIRONMENT=${environment}: use letters, digits and _ . : - only"
if [ -n "$alertmanager" ]; then
  printf '%s' "$alertmanager" | grep -Eq '^[A-Za-z0-9.-]+:[0-9]{1,5}$' \
    || fail "ALERTMANAGER_ADDRESS=${alertmanager}: must be host:port"
fi
[ -r "$template" ] || fail "${template}: template not found"

# Write next to the target and rename, so a half-written file is never read.
tmp="${config}.tmp.$$"
sed -e "s|\${SCRAPE_DNS_NAME}|${dns_name}|g" \
    -e "s|\${SCRAPE_PORT}|${port}|g" \
    -e "s|\${SCRAPE_INTERVAL}|${interval}|g" \
    -e "s|\${MM2_ENVIRONMENT}|${environment}|g" \
    "$template" > "$tmp"
if [ -n "$alertmanager" ]; then
  cat >> "$tmp" <<ALERTING

alerting:
  alertmanagers:
    - static_configs:
        - targets:
            - ${alertmanager}
ALERTING
fi
mv "$tmp" "$config"

exec "${PROMETHEUS_BIN:-/bin/prometheus}" \
  --config.file="$config" \
  --storage.tsdb.path=/prometheus \
  --storage.tsdb.retention.time="${PROMETHEUS_RETENTION:-15d}" \
  --web.listen-address=:9090 \
  "$@"
