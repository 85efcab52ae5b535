#!/usr/bin/env bash
# Makes the Connect service scale on replication backlog: registers it as an
# Application Auto Scaling target and puts the policy of
# taskdefs/scaling-policy.json on it.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/apply-scaling.sh --min N --max N [--env-file FILE] [--cluster NAME --service NAME] [options]

Registers the ECS service as a scalable target (ecs:service:DesiredCount)
and puts the scaling policy of the policy file on it. ${NAME} placeholders
in the policy file are filled from CLUSTER_NAME, SERVICE_NAME and REGION,
CLOUDWATCH_NAMESPACE (default MM2/Connect, the sidecar's), the env file,
and --var.

The sidecars publish the scaling metric with the dimensions ClusterName and
ServiceName set from the env file's ECS_CLUSTER and CONNECT_SERVICE; the
cluster and service default to those, and a --cluster or --service that
differs from them is refused, since the policy would then track a metric
no task publishes.

A policy file with a top-level "PolicyName" is a complete
put-scaling-policy input; any other is a target-tracking configuration.

  --cluster NAME       ECS cluster (default: ECS_CLUSTER of the env file)
  --service NAME       ECS service of the Connect tasks (default:
                       CONNECT_SERVICE of the env file)
  --min N, --max N     task count bounds (required; min >= 1: a Connect
                       cluster scaled to zero replicates nothing)
  --region REGION      AWS region (default: REGION of the env file, else the CLI's)
  --policy-file FILE   default taskdefs/scaling-policy.json
  --env-file FILE      settings, as for scripts/render-taskdefs.sh
  --var KEY=VALUE      one more placeholder value (repeatable)
  --dry-run            print the AWS CLI calls instead of making them
  -h, --help           show this help
USAGE
}

die() {
  echo "apply-scaling: $*" >&2
  exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster=""
service=""
min=""
max=""
region=""
policy_file="${repo_root}/taskdefs/scaling-policy.json"
env_file=""
extra_vars=()
dry_run=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    --cluster) [[ $# -ge 2 ]] || die "--cluster needs a name"; cluster="$2"; shift 2 ;;
    --service) [[ $# -ge 2 ]] || die "--service needs a name"; service="$2"; shift 2 ;;
    --min) [[ $# -ge 2 ]] || die "--min needs a number"; min="$2"; shift 2 ;;
    --max) [[ $# -ge 2 ]] || die "--max needs a number"; max="$2"; shift 2 ;;
    --region) [[ $# -ge 2 ]] || die "--region needs a region"; region="$2"; shift 2 ;;
    --policy-file) [[ $# -ge 2 ]] || die "--policy-file needs a file"; policy_file="$2"; shift 2 ;;
    --env-file) [[ $# -ge 2 ]] || die "--env-file needs a file"; env_file="$2"; shift 2 ;;
    --var)
      [[ $# -ge 2 && "$2" =~ ^[A-Z][A-Z0-9_]*=.+$ ]] || die "--var needs KEY=VALUE"
      extra_vars+=("$2"); shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[[ "$min" =~ ^[0-9]+$ && "$max" =~ ^[0-9]+$ ]] || die "--min and --max must be whole numbers"
(( min >= 1 )) || die "--min ${min}: must be at least 1"
(( max >= min )) || die "--max ${max} is below --min ${min}"
[[ -r "$policy_file" ]] || die "${policy_file}: cannot read the scaling policy"
[[ -z "$env_file" || -r "$env_file" ]] || die "${env_file}: cannot read the env file"
command -v jq >/dev/null 2>&1 || die "jq is required: install it with your package manager"
$dry_run || command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required: https://docs.aws.amazon.com/cli/"

# Placeholder values: the env file, then the command line.
settings="$(mktemp)"
rendered="$(mktemp)"
trap 'rm -f "$settings" "$rendered"' EXIT
if [[ -n "$env_file" ]]; then
  grep -E '^[A-Z][A-Z0-9_]*=.' "$env_file" > "$settings" || true
fi
setting() {
  grep -E "^$1=" "$settings" | tail -n 1 | cut -d= -f2- || true
}
if [[ -z "$region" ]]; then
  region="$(setting REGION)"
fi
# The scaling metric's dimensions are what the task definitions gave the
# sidecars (SIDECAR_CLUSTER_NAME, SIDECAR_SERVICE_NAME).
env_cluster="$(setting ECS_CLUSTER)"
env_service="$(setting CONNECT_SERVICE)"
if [[ -n "$env_cluster" && -n "$cluster" && "$cluster" != "$env_cluster" ]]; then
  die "--cluster ${cluster} differs from ECS_CLUSTER=${env_cluster} in ${env_file}: the sidecars publish ClusterName=${env_cluster}"
fi
if [[ -n "$env_service" && -n "$service" && "$service" != "$env_service" ]]; then
  die "--service ${service} differs from CONNECT_SERVICE=${env_service} in ${env_file}: the sidecars publish ServiceName=${env_service}"
fi
cluster="${cluster:-$env_cluster}"
service="${service:-$env_service}"
[[ -n "$cluster" ]] || die "--cluster is required (or ECS_CLUSTER in --env-file)"
[[ -n "$service" ]] || die "--service is required (or CONNECT_SERVICE in --env-file)"
# The namespace defaults to the sidecar's own default (SIDECAR_CLOUDWATCH_NAMESPACE).
namespace="$(setting CLOUDWATCH_NAMESPACE)"
{
  printf 'CLOUDWATCH_NAMESPACE=%s\n' "${namespace:-MM2/Connect}"
  printf 'CLUSTER_NAME=%s\nSERVICE_NAME=%s\n' "$cluster" "$service"
  [[ -z "$region" ]] || printf 'REGION=%s\n' "$region"
  for v in ${extra_vars[@]+"${extra_vars[@]}"}; do
    printf '%s\n' "$v"
  done
} >> "$settings"

# shellcheck disable=SC2016 # $vars and $missing are jq variables
jq_out="$(jq --argjson vars "$(jq -Rn '[inputs | capture("^(?<key>[A-Z][A-Z0-9_]*)=(?<value>.*)$")] | from_entries' < "$settings")" '
  (([.. | strings | scan("\\$\\{([A-Z][A-Z0-9_]*)\\}") | .[0]] | unique) - ($vars | keys)) as $missing
  | if ($missing | length) > 0 then error("unset: " + ($missing | join(", ")) + " (use --env-file or --var)")
    else walk(if type == "string" then gsub("\\$\\{(?<n>[A-Z][A-Z0-9_]*)\\}"; $vars[.n]) else . end) end' \
  "$policy_file" 2>&1)" || die "${policy_file}: ${jq_out#jq: error (at *): }"
printf '%s\n' "$jq_out" > "$rendered"

# shellcheck source-path=SCRIPTDIR source=lib/dry-run.bash
source "${repo_root}/scripts/lib/dry-run.bash"

region_args=()
[[ -z "$region" ]] || region_args=(--region "$region")
resource="service/${cluster}/${service}"

run aws ${region_args[@]+"${region_args[@]}"} application-autoscaling register-scalable-target \
  --service-namespace ecs --resource-id "$resource" --scalable-dimension ecs:service:DesiredCount \
  --min-capacity "$min" --max-capacity "$max"

if jq -e 'has("PolicyName")' "$rendered" >/dev/null; then
  if $dry_run; then
    echo "# ${policy_file##*/} rendered:"
    cat "$rendered"
  fi
  run aws ${region_args[@]+"${region_args[@]}"} application-autoscaling put-scaling-policy \
    --cli-input-json "$(jq -c . "$rendered")"
else
  run aws ${region_args[@]+"${region_args[@]}"} application-autoscaling put-scaling-policy \
    --service-namespace ecs --resource-id "$resource" --scalable-dimension ecs:service:DesiredCount \
    --policy-name "${service}-replication-backlog" --policy-type TargetTrackingScaling \
    --target-tracking-scaling-policy-configuration "$(jq -c . "$rendered")"
fi
