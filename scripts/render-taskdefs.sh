#!/usr/bin/env bash
# Renders the ECS task definitions and IAM policies of taskdefs/ for one
# authentication mode: merges the mode's secrets and settings
# (taskdefs/modes/MODE.json) into the Connect task and fills every
# ${PLACEHOLDER} from an env file. Writes nothing when a value is missing.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/render-taskdefs.sh --env-file FILE --auth-mode MODE [--out DIR]

Renders the task definitions and IAM role policies of taskdefs/ into DIR
(default out/taskdefs), filling ${NAME} placeholders from FILE (KEY=VALUE
lines, see taskdefs/deploy.env.example).

  --env-file FILE   settings (required)
  --auth-mode MODE  plaintext, scram, mtls or iam (required): adds the
                    mode's secrets to the Connect task; iam also renders
                    iam/msk-iam-access.json
  --out DIR         output directory (default out/taskdefs)
  -h, --help        show this help

Output: connect-task.json, prometheus-task.json, grafana-task.json,
iam/connect-task-role.json, iam/execution-role.json,
iam/ecs-tasks-trust.json (the roles' trust policy, for this account)
[, iam/msk-iam-access.json], ready for
`aws ecs register-task-definition --cli-input-json file://...`
(scripts/register-taskdefs.sh does that).
USAGE
}

die() {
  echo "render-taskdefs: $*" >&2
  exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
taskdefs="${repo_root}/taskdefs"
env_file=""
mode=""
out="out/taskdefs"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --env-file) [[ $# -ge 2 ]] || die "--env-file needs a file"; env_file="$2"; shift 2 ;;
    --auth-mode) [[ $# -ge 2 ]] || die "--auth-mode needs a mode"; mode="$2"; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[[ -n "$env_file" ]] || die "--env-file is required (start from taskdefs/deploy.env.example)"
[[ -r "$env_file" ]] || die "${env_file}: cannot read the env file"
case "$mode" in
  plaintext|scram|mtls|iam) ;;
  "") die "--auth-mode is required: plaintext, scram, mtls or iam" ;;
  *) die "--auth-mode ${mode}: must be plaintext, scram, mtls or iam" ;;
esac
command -v jq >/dev/null 2>&1 || die "jq is required: install it with your package manager (apt-get install jq, brew install jq)"

# KEY=VALUE lines become a JSON object; nothing is evaluated by a shell.
vars_json="$(jq -Rn '
  [inputs
   | select(test("^\\s*(#|$)") | not)
   | if test("^[A-Z][A-Z0-9_]*=") then capture("^(?<key>[A-Z][A-Z0-9_]*)=(?<value>.*)$")
     else error("line \"" + . + "\" is not KEY=VALUE") end
   | select(.value != "")]
  | from_entries' < "$env_file" 2>&1)" || die "${env_file}: ${vars_json#jq: error (at <stdin>:*): }"

# fill replaces every ${NAME} in every string, or fails naming each unset one.
# shellcheck disable=SC2016 # $vars and $missing are jq variables
fill='
  def names: [.. | strings | scan("\\$\\{([A-Z][A-Z0-9_]*)\\}") | .[0]] | unique;
  (names - ($vars | keys)) as $missing
  | if ($missing | length) > 0 then error("unset in the env file: " + ($missing | join(", ")))
    else walk(if type == "string" then gsub("\\$\\{(?<n>[A-Z][A-Z0-9_]*)\\}"; $vars[.n]) else . end)
    end'

render() { # SOURCE TARGET [jq program applied before filling]
  local src="$1" dst="$2" pre="${3:-.}" result
  result="$(jq --argjson vars "$vars_json" --slurpfile overlay "${taskdefs}/modes/${mode}.json" \
    "${pre} | ${fill}" "$src" 2>&1)" || die "${src#"${repo_root}"/}: ${result#jq: error (at *): }"
  printf '%s\n' "$result" > "$dst"
}

# Adds the mode's environment and secrets to the named containers; an
# overlay naming a container the task lacks is an error.
# shellcheck disable=SC2016 # $o, $c, $add and $overlay are jq variables
merge_mode='
  ($overlay[0].containers // {}) as $o
  | ([.containerDefinitions[].name]) as $names
  | ($o | keys - $names) as $unknown
  | if ($unknown | length) > 0 then error("mode overlay names unknown containers: " + ($unknown | join(", "))) else . end
  | .containerDefinitions |= map(
      . as $c | ($o[$c.name] // {}) as $add
      | .environment = ((.environment // []) + ($add.environment // []))
      | if ($add.secrets // []) == [] then . else .secrets = ((.secrets // []) + $add.secrets) end)'

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "${staging}/iam"

render "${taskdefs}/connect-task.json" "${staging}/connect-task.json" "$merge_mode"
render "${taskdefs}/prometheus-task.json" "${staging}/prometheus-task.json"
render "${taskdefs}/grafana-task.json" "${staging}/grafana-task.json"
render "${taskdefs}/iam/connect-task-role.json" "${staging}/iam/connect-task-role.json"
render "${taskdefs}/iam/execution-role.json" "${staging}/iam/execution-role.json"
render "${taskdefs}/iam/ecs-tasks-trust.json" "${staging}/iam/ecs-tasks-trust.json"
if [[ "$mode" == iam ]]; then
  render "${taskdefs}/iam/msk-iam-access.json" "${staging}/iam/msk-iam-access.json"
fi

# Only now, with every file rendered, replace what the output held.
mkdir -p "$out"
rm -rf "${out:?}/iam" "${out}"/*-task.json
cp -R "${staging}/." "$out/"
find "$out" -type f -name '*.json' | sort
