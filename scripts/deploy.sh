#!/usr/bin/env bash
# Deploys or updates the whole migration stack from one settings file: the
# config bucket stack, the worker properties and connector files in it, and
# the stack of taskdefs/stack.yaml; then waits for the services to be stable.
# Safe to run again: with nothing changed it changes nothing and says so.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/deploy.sh --env-file FILE [options]

Creates or updates, in REGION of FILE:
  stack STACK_NAME-config   the config bucket (taskdefs/config-bucket.yaml)
  s3://CONFIG_BUCKET/CONFIG_PREFIX   worker properties, connector files and
                            (mtls) stores, by scripts/upload-connectors.sh
  stack STACK_NAME          everything else (taskdefs/stack.yaml)
Each stack change goes through a change set, which is printed before it is
executed. Then waits until the three ECS services are stable, printing their
progress, and prints where to look.

  --env-file FILE    settings (required; see taskdefs/deploy.env.example)
  --skip-preflight   do not run `connect-sidecar preflight` (it runs when the
                     connect-sidecar on PATH, or $CONNECT_SIDECAR, has it)
  --no-wait          do not wait for the services to be stable
  --wait-timeout S   give up waiting after S seconds (default 1800)
  --dry-run          read what exists and preview the change sets, then print
                     the calls that would change anything instead of making them
  -h, --help         show this help

Needs: the AWS CLI with credentials for ACCOUNT_ID, jq.
USAGE
}

die() {
  echo "deploy: $*" >&2
  exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
env_file=""
preflight=true
wait=true
wait_timeout=1800
dry_run=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    --env-file) [[ $# -ge 2 ]] || die "--env-file needs a file"; env_file="$2"; shift 2 ;;
    --skip-preflight) preflight=false; shift ;;
    --no-wait) wait=false; shift ;;
    --wait-timeout)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "--wait-timeout needs a number of seconds"
      wait_timeout="$2"; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

# load_settings (lib/settings.bash) fills these; named here so the script
# reads whole on its own.
declare -A settings=()
region="" stack="" config_stack=""
# shellcheck source-path=SCRIPTDIR source=lib/settings.bash
source "${repo_root}/scripts/lib/settings.bash"
load_settings "$env_file" deploy
# shellcheck source-path=SCRIPTDIR source=lib/dry-run.bash
source "${repo_root}/scripts/lib/dry-run.bash"
# shellcheck source-path=SCRIPTDIR source=lib/stacks.bash
source "${repo_root}/scripts/lib/stacks.bash"

# ---- preflight ----
if $preflight; then
  sidecar="${CONNECT_SIDECAR:-$(command -v connect-sidecar || true)}"
  if [[ -z "$sidecar" ]]; then
    echo "preflight: skipped (no connect-sidecar on PATH; set CONNECT_SIDECAR or use --skip-preflight)" >&2
  elif ! "$sidecar" preflight --help >/dev/null 2>&1; then
    echo "preflight: skipped (${sidecar} has no preflight command)" >&2
  else
    # The files about to be uploaded, checked before they reach a task.
    pf_connectors="${settings[CONNECTORS_DIR]:-${repo_root}/connect-image/connectors/${settings[AUTH_MODE]}}"
    pf_worker="${settings[WORKER_FILE]:-${repo_root}/connect-image/workers/${settings[AUTH_MODE]}.properties}"
    # The scaling bound is the most workers the service runs.
    pf_args=(--connectors "$pf_connectors" --worker "$pf_worker")
    [[ -z "${settings[MAX_TASKS]:-}" ]] || pf_args+=(--max-workers "${settings[MAX_TASKS]}")
    echo "==> preflight: ${sidecar} preflight ${pf_args[*]}" >&2
    env_args=()
    for key in "${!settings[@]}"; do
      env_args+=("${key}=${settings[$key]}")
    done
    env "${env_args[@]}" "$sidecar" preflight "${pf_args[@]}" ||
      die "preflight failed: fix what it reports, or deploy with --skip-preflight"
  fi
else
  echo "preflight: skipped (--skip-preflight)" >&2
fi

changed=false

# ---- config bucket ----
echo "==> stack ${config_stack}: config bucket ${settings[CONFIG_BUCKET]}" >&2
if deploy_stack "$config_stack" "${repo_root}/taskdefs/config-bucket.yaml" \
  "$(jq -cn --arg b "${settings[CONFIG_BUCKET]}" '[{ParameterKey: "ConfigBucket", ParameterValue: $b}]')"; then
  changed=true
fi

# ---- configuration files ----
echo "==> configuration: s3://${settings[CONFIG_BUCKET]}/${settings[CONFIG_PREFIX]}" >&2
upload=(--auth-mode "${settings[AUTH_MODE]}" --s3-uri "s3://${settings[CONFIG_BUCKET]}/${settings[CONFIG_PREFIX]}" --region "$region")
[[ -z "${settings[CONNECTORS_DIR]:-}" ]] || upload+=(--connectors-dir "${settings[CONNECTORS_DIR]}")
[[ -z "${settings[WORKER_FILE]:-}" ]] || upload+=(--worker-file "${settings[WORKER_FILE]}")
[[ -z "${settings[KEYSTORE_FILE]:-}" ]] || upload+=(--keystore "${settings[KEYSTORE_FILE]}")
[[ -z "${settings[TRUSTSTORE_FILE]:-}" ]] || upload+=(--truststore "${settings[TRUSTSTORE_FILE]}")
$dry_run && upload+=(--dry-run)
"${repo_root}/scripts/upload-connectors.sh" "${upload[@]}"

# ---- the stack ----
echo "==> stack ${stack}" >&2
if deploy_stack "$stack" "${repo_root}/taskdefs/stack.yaml" "$(stack_parameters)" CAPABILITY_IAM; then
  changed=true
fi

cluster="${settings[ECS_CLUSTER]}"
services=("${settings[CONNECT_SERVICE]}" "${settings[NAME_PREFIX]}-prometheus" "${settings[NAME_PREFIX]}-grafana")
describe_services=(aws ecs describe-services --region "$region" --cluster "$cluster" --services "${services[@]}"
  --query 'services[].[serviceName,runningCount,desiredCount,length(deployments),deployments[0].rolloutState]' --output text)
outputs=(aws cloudformation describe-stacks --region "$region" --stack-name "$stack"
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text)
if $dry_run; then
  # The services and outputs a real run then reads do not exist yet.
  $wait && show "${describe_services[@]}"
  show "${outputs[@]}"
  echo "dry run: nothing was changed" >&2
  exit 0
fi
$changed || echo "no changes: stacks ${config_stack} and ${stack} are up to date" >&2

# ---- wait ----
if $wait; then
  echo "==> waiting for ${services[*]} to be stable (at most ${wait_timeout}s)" >&2
  start=$SECONDS
  while :; do
    rows="$("${describe_services[@]}")"
    line="" stable=true
    while read -r name running desired deployments rollout; do
      line+="${name} ${running}/${desired} running"
      [[ "$deployments" == 1 ]] || line+=", ${deployments} deployments"
      [[ "$rollout" == None ]] || line+=" (${rollout})"
      line+=" | "
      if [[ "$running" != "$desired" || "$deployments" != 1 || "$rollout" == IN_PROGRESS || "$rollout" == FAILED ]]; then
        stable=false
      fi
      [[ "$rollout" != FAILED ]] || die "${name}: deployment failed and was rolled back; see the service events (aws ecs describe-services --cluster ${cluster} --services ${name})"
    done <<<"$rows"
    printf '[%4ds] %s\n' "$((SECONDS - start))" "${line% | }" >&2
    $stable && break
    (( SECONDS - start < wait_timeout )) || die "services not stable after ${wait_timeout}s"
    sleep 15
  done
fi

# ---- where to look ----
echo "==> deployed" >&2
"${outputs[@]}"
echo "logs: aws logs tail ${settings[LOG_GROUP]} --region ${region} --follow"
