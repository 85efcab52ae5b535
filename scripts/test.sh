#!/usr/bin/env bash
# Runs every check of the repository: Go vet and tests (which drive promtool,
# a real Prometheus and shellcheck), gofmt, and shellcheck on every script.
# Installs what it needs when missing (Debian packages via apt-get).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/test.sh [--short] [-- GO_TEST_ARGS...]

Runs gofmt, go vet, shellcheck and `go test ./...` for the whole repository,
including the real-Kafka integration suite (sidecar/integration: KRaft
brokers, Kafka Connect workers and MirrorMaker 2 from Maven Central jars,
resolved by scripts/kafka-runtime.sh). Installs prometheus (promtool and the
server), shellcheck, jq, a Java 17 JDK and Maven with apt-get when missing;
without apt-get it names what is missing in one line and the tests that need
it are skipped (in CI, where CI is set, that is a failure).

  --short   pass -short to go test (skips the slowest end-to-end tests and
            the real-Kafka suite; refused in CI)
  -h, --help  show this help
USAGE
}

short=()
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --short) short=(-short); shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "test.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  need+=(prometheus)
fi
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
if [[ ${#need[@]} -gt 0 ]]; then
  if ! command -v apt-get >/dev/null 2>&1 || { [[ ${#sudo_cmd[@]} -gt 0 ]] && ! command -v sudo >/dev/null 2>&1; }; then
    echo "test.sh: missing ${need[*]} and no apt-get (or sudo) to install them: install them with your package manager (macOS: brew install prometheus shellcheck jq openjdk@17 maven); until then the tests that need them are skipped (prometheus: rules, alerts and dashboards; shellcheck: the shellcheck step and script tests; jq: script and task-definition tests; java and maven: the real-Kafka suite), which fails in CI. go test ./... runs the Go tests alone." >&2
    [[ -n "${CI:-}" ]] && exit 1
  else
    echo "==> installing ${need[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
# Debian's prometheus package starts a service on install; the tests start
# their own servers on loopback and need nothing running.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi

command -v go >/dev/null 2>&1 || { echo "test.sh: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }

echo "==> gofmt"
unformatted=$(find . -name '*.go' -not -path './.git/*' -print0 | xargs -0 gofmt -l)
if [[ -n "$unformatted" ]]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "==> go vet"
go vet ./...

echo "==> shellcheck"
mapfile -t scripts < <(git ls-files '*.sh' 'build_images.sh' '.ci/run' 'connect-image/*entrypoint*' 'prometheus-image/*entrypoint*' 2>/dev/null | sort -u)
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "    skipped: shellcheck is not installed"
elif [[ ${#scripts[@]} -gt 0 ]]; then
  shellcheck --external-sources "${scripts[@]}"
fi

echo "==> go test"
export CI="${CI:-}"
go test "${short[@]}" -count=1 -timeout 30m ./... "${extra[@]}"
