#!/usr/bin/env bash
# Entry point of the Kafka Connect image. Starts a distributed worker on the
# properties that `connect-sidecar bootstrap` wrote into SIDECAR_CONFIG_DIR,
# with the Prometheus JMX exporter agent listening on 127.0.0.1 only.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: connect-entrypoint [run|healthcheck|--help]

  run          (default) exec connect-distributed.sh with
               ${SIDECAR_CONFIG_DIR:-/config}/connect-distributed.properties
  healthcheck  exit 0 when the worker's REST API answers GET / with 200 on
               ${CONNECT_HEALTHCHECK_PORT:-8083} (used by the ECS health check)
  -h, --help   show this help

Environment:
  SIDECAR_CONFIG_DIR        directory the bootstrap wrote (default /config)
  KAFKA_HEAP_OPTS           JVM heap flags (image default sizes the heap from
                            the container's memory: -XX:MaxRAMPercentage=75)
  KAFKA_OPTS                extra JVM flags; the JMX exporter agent is added
  KAFKA_JMX_EXPORTER_OPTS   the agent flag (empty: no agent)
USAGE
}

run_worker() {
  local config_dir="${SIDECAR_CONFIG_DIR:-/config}"
  local props="${config_dir}/connect-distributed.properties"
  if [[ ! -e "$props" ]]; then
    echo "connect-entrypoint: ${props} does not exist: the config-init container (connect-sidecar bootstrap) must run first and write it; check SIDECAR_CONFIG_DIR and the task's dependsOn" >&2
    exit 1
  fi
  if [[ ! -r "$props" ]]; then
    echo "connect-entrypoint: ${props} is not readable by uid $(id -u): run the config-init container with the same user as this one" >&2
    exit 1
  fi
  if [[ ! -s "$props" ]]; then
    echo "connect-entrypoint: ${props} is empty: the bootstrap did not finish writing it" >&2
    exit 1
  fi
  export KAFKA_OPTS="${KAFKA_OPTS:+${KAFKA_OPTS} }${KAFKA_JMX_EXPORTER_OPTS:-}"
  exec "${KAFKA_HOME:-/opt/kafka}/bin/connect-distributed.sh" "$props"
}

# Bash's /dev/tcp keeps curl out of the image.
healthcheck() {
  local port="${CONNECT_HEALTHCHECK_PORT:-8083}" status
  exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
  printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  IFS= read -r -t 5 status <&3 || exit 1
  exec 3<&-
  [[ "$status" == "HTTP/1."?" 200"* ]]
}

case "${1:-run}" in
  run) run_worker ;;
  healthcheck) healthcheck ;;
  -h|--help) usage ;;
  *) echo "connect-entrypoint: unknown command '$1' (see --help)" >&2; exit 2 ;;
esac
