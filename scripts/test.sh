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
server), shellcheck, jq, a Java 17 JDK and Maven with apt-get, and cfn-lint,
the AWS CLI and moto's server from PyPI (with pip, or into a virtual
environment under ${XDG_CACHE_HOME:-~/.cache}/mm2-ecs/venv when the system's
pip refuses) when they are missing; without apt-get it names what is missing
in one line and the tests that need it are skipped (in CI, where CI is set,
that is a failure).

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

# AWS's own tooling, for the CloudFormation lint and the deployment flow on
# moto: pip into the user's Python, or, where that is refused (an
# externally managed Python), into a virtual environment of our own.
venv="${XDG_CACHE_HOME:-${HOME}/.cache}/mm2-ecs/venv"
[[ -x "${venv}/bin/moto_server" ]] && export PATH="${venv}/bin:${PATH}"
pip_need=()
command -v cfn-lint >/dev/null 2>&1 || pip_need+=(cfn-lint)
command -v aws >/dev/null 2>&1 || pip_need+=(awscli)
command -v moto_server >/dev/null 2>&1 || pip_need+=("moto[server]")
if [[ ${#pip_need[@]} -gt 0 ]] && ! command -v python3 >/dev/null 2>&1; then
  echo "test.sh: missing ${pip_need[*]} and no python3 to install them from PyPI: the CloudFormation lint and the deployment flow on moto are skipped, which fails in CI" >&2
  [[ -n "${CI:-}" ]] && exit 1
elif [[ ${#pip_need[@]} -gt 0 ]]; then
  echo "==> installing ${pip_need[*]} from PyPI"
  if ! python3 -m pip install --quiet "${pip_need[@]}" 2>/dev/null; then
    python3 -m venv "$venv"
    "${venv}/bin/pip" install --quiet cfn-lint awscli "moto[server]"
    export PATH="${venv}/bin:${PATH}"
  fi
fi

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
