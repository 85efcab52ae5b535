#!/bin/sh
# Entry point of the Grafana image: refuses to start without an admin
# password from a secret, then hands over to Grafana's own /run.sh (which
# reads GF_*__FILE variables). POSIX sh: the base image has no bash.
set -eu

case "${1:-}" in
  -h|--help)
    cat <<'USAGE'
Usage: grafana-entrypoint [GRAFANA_ARGS...]

Starts Grafana with the MM2 data source and dashboards provisioned.

Environment:
  GF_SECURITY_ADMIN_PASSWORD__FILE  file holding the admin password, or
  GF_SECURITY_ADMIN_PASSWORD        the password itself (on ECS: injected from
                                    Secrets Manager by the task's "secrets")
  PROMETHEUS_URL                    (required) e.g. http://prometheus.mm2.local:9090
USAGE
    exit 0 ;;
esac

fail() {
  echo "grafana-entrypoint: $*" >&2
  exit 1
}

password_file="${GF_SECURITY_ADMIN_PASSWORD__FILE:-}"
password="${GF_SECURITY_ADMIN_PASSWORD:-}"
if [ -n "$password_file" ]; then
  [ -r "$password_file" ] || fail "GF_SECURITY_ADMIN_PASSWORD__FILE=${password_file}: file not readable"
  [ -s "$password_file" ] || fail "GF_SECURITY_ADMIN_PASSWORD__FILE=${password_file}: file is empty"
  password=$(cat "$password_file")
elif [ -z "$password" ]; then
  fail "no admin password: set GF_SECURITY_ADMIN_PASSWORD__FILE (a mounted secret) or GF_SECURITY_ADMIN_PASSWORD (from Secrets Manager); Grafana's default is never used"
fi
case "$password" in
  admin) fail "the admin password is Grafana's default: choose another" ;;
esac
[ "${#password}" -ge 12 ] || fail "the admin password is shorter than 12 characters"
unset password

[ -n "${PROMETHEUS_URL:-}" ] || fail "PROMETHEUS_URL is not set: give the Prometheus service's URL, e.g. http://prometheus.mm2.local:9090"
case "$PROMETHEUS_URL" in
  http://*|https://*) ;;
  *) fail "PROMETHEUS_URL=${PROMETHEUS_URL}: must start with http:// or https://" ;;
esac

exec "${GRAFANA_RUN:-/run.sh}" "$@"
