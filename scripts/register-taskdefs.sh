#!/usr/bin/env bash
# Renders the task definitions (scripts/render-taskdefs.sh) and registers
# them with ECS; optionally attaches the rendered IAM policies to the roles
# the task definitions name.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/register-taskdefs.sh --env-file FILE --auth-mode MODE [options]

Renders taskdefs/ with FILE's settings and registers the Connect, Prometheus
and Grafana task definitions with `aws ecs register-task-definition`.

  --env-file FILE   settings (required; see taskdefs/deploy.env.example)
  --auth-mode MODE  plaintext, scram, mtls or iam (required)
  --out DIR         where to keep the rendered files (default out/taskdefs)
  --only NAME       register one task definition: connect, prometheus or grafana
  --apply-iam       also put the rendered policies on the roles named by
                    CONNECT_TASK_ROLE_ARN and EXECUTION_ROLE_ARN
                    (aws iam put-role-policy; the roles must exist)
  --dry-run         render, then print the AWS CLI calls instead of making them
  -h, --help        show this help
USAGE
}

die() {
  echo "register-taskdefs: $*" >&2
  exit 1
}

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
env_file=""
mode=""
out="out/taskdefs"
only=""
apply_iam=false
dry_run=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    --env-file) [[ $# -ge 2 ]] || die "--env-file needs a file"; env_file="$2"; shift 2 ;;
    --auth-mode) [[ $# -ge 2 ]] || die "--auth-mode needs a mode"; mode="$2"; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; out="$2"; shift 2 ;;
    --only) [[ $# -ge 2 ]] || die "--only needs a name"; only="$2"; shift 2 ;;
    --apply-iam) apply_iam=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

case "$only" in
  ""|connect|prometheus|grafana) ;;
  *) die "--only ${only}: must be connect, prometheus or grafana" ;;
esac
[[ -n "$env_file" ]] || die "--env-file is required"
$dry_run || command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required: https://docs.aws.amazon.com/cli/"

# shellcheck source-path=SCRIPTDIR source=lib/dry-run.bash
source "${script_dir}/lib/dry-run.bash"

"${script_dir}/render-taskdefs.sh" --env-file "$env_file" --auth-mode "$mode" --out "$out" >/dev/null

# The region and role names come from the same settings the files used.
setting() {
  local value
  value="$(grep -E "^$1=" "$env_file" | tail -n 1 | cut -d= -f2-)" || true
  [[ -n "$value" ]] || die "${env_file}: $1 is not set"
  printf '%s' "$value"
}
region="$(setting REGION)"

for name in connect prometheus grafana; do
  [[ -z "$only" || "$only" == "$name" ]] || continue
  run aws ecs register-task-definition --region "$region" \
    --cli-input-json "file://${out}/${name}-task.json" \
    --query 'taskDefinition.taskDefinitionArn' --output text
done

if $apply_iam; then
  task_role="$(setting CONNECT_TASK_ROLE_ARN)"
  execution_role="$(setting EXECUTION_ROLE_ARN)"
  run aws iam put-role-policy --role-name "${task_role##*/}" --policy-name mm2-connect-task \
    --policy-document "file://${out}/iam/connect-task-role.json"
  if [[ -f "${out}/iam/msk-iam-access.json" ]]; then
    run aws iam put-role-policy --role-name "${task_role##*/}" --policy-name mm2-msk-iam-access \
      --policy-document "file://${out}/iam/msk-iam-access.json"
  fi
  run aws iam put-role-policy --role-name "${execution_role##*/}" --policy-name mm2-task-execution \
    --policy-document "file://${out}/iam/execution-role.json"
fi
