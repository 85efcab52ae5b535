#!/usr/bin/env bash
# Resolves the Java runtime that connect-image ships (Apache Kafka, Kafka
# Connect with MirrorMaker 2, the JMX exporter agent, aws-msk-iam-auth) from
# Maven Central into a cache folder, and prints that folder. The versions are
# those of connect-image/runtime/pom.xml.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/kafka-runtime.sh [--print-classpath] [-h|--help]

Resolves connect-image/runtime/pom.xml with Maven into
  ${MM2_RUNTIME_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mm2-ecs}/runtime-<pom digest>/
    libs/                          the class path (Kafka broker, Connect, MM2, ...)
    agent/jmx_prometheus_javaagent.jar
and prints that folder's path on stdout. A folder already resolved for the
same pom is reused, so the second run is instant and needs no network.

  --print-classpath  print "<folder>/libs/*" instead (a java -cp value)
  -h, --help         show this help

Needs Java 17+ and Maven 3.8+ (Debian: apt-get install openjdk-17-jdk-headless maven).
USAGE
}

print_cp=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --print-classpath) print_cp=true; shift ;;
    *) echo "kafka-runtime.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pom="${repo}/connect-image/runtime/pom.xml"

missing=()
command -v java >/dev/null 2>&1 || missing+=("java (Java 17+: apt-get install openjdk-17-jdk-headless)")
command -v mvn >/dev/null 2>&1 || missing+=("mvn (Maven 3.8+: apt-get install maven)")
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "kafka-runtime.sh: missing ${missing[*]}" >&2
  exit 3
fi

digest="$(sha256sum "$pom" | cut -c1-12)"
cache="${MM2_RUNTIME_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/mm2-ecs}"
dest="${cache}/runtime-${digest}"

if [[ ! -f "${dest}/.complete" ]]; then
  mkdir -p "$cache"
  work="$(mktemp -d "${cache}/.resolve-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "kafka-runtime.sh: resolving ${pom#"${repo}/"} with Maven into ${dest}" >&2
  if ! mvn -B -q -f "$pom" dependency:copy-dependencies \
      -DoutputDirectory="${work}/libs" -DincludeScope=runtime >"${work}/mvn.log" 2>&1; then
    cat "${work}/mvn.log" >&2
    echo "kafka-runtime.sh: Maven could not resolve ${pom#"${repo}/"} (log above)" >&2
    exit 1
  fi
  mkdir -p "${work}/agent"
  shopt -s nullglob
  agents=("${work}"/libs/jmx_prometheus_javaagent-*.jar)
  if [[ ${#agents[@]} -ne 1 ]]; then
    echo "kafka-runtime.sh: expected one jmx_prometheus_javaagent jar, found ${#agents[@]}" >&2
    exit 1
  fi
  mv "${agents[0]}" "${work}/agent/jmx_prometheus_javaagent.jar"
  rm -f "${work}/mvn.log"
  touch "${work}/.complete"
  rm -rf "$dest"
  mv "$work" "$dest"
  trap - EXIT
fi

if [[ "$print_cp" == true ]]; then
  echo "${dest}/libs/*"
else
  echo "$dest"
fi
