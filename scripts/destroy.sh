#!/usr/bin/env bash
# Removes the migration stack that scripts/deploy.sh created. The config
# bucket (its own stack) stays unless --delete-config: it holds the worker
# properties, stores and connector files a new deployment starts from.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/destroy.sh --env-file FILE [--delete-config] [--yes] [--dry-run]

Deletes the stack STACK_NAME of FILE (services, task definitions, roles, log
group, cluster, Cloud Map, security groups, scaling) and waits until it is
gone. ECR repositories and Secrets Manager secrets are left alone.

  --env-file FILE   settings (required; REGION, STACK_NAME or NAME_PREFIX,
                    CONFIG_BUCKET are read)
  --delete-config   also empty the config bucket (every object version) and
                    delete its stack STACK_NAME-config
  --yes             do not ask for confirmation
  --dry-run         read what exists, then print the calls that would delete
                    anything instead of making them
  -h, --help        show this help

Running it again when everything is gone changes nothing.
USAGE
}

die() {
  echo "destroy: $*" >&2
  exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
env_file=""
delete_config=false
yes=false
dry_run=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    --env-file) [[ $# -ge 2 ]] || die "--env-file needs a file"; env_file="$2"; shift 2 ;;
    --delete-config) delete_config=true; shift ;;
    --yes) yes=true; shift ;;
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
load_settings "$env_file" destroy
# shellcheck source-path=SCRIPTDIR source=lib/dry-run.bash
source "${repo_root}/scripts/lib/dry-run.bash"
bucket="${settings[CONFIG_BUCKET]}"

exists() {
  query aws cloudformation describe-stacks --region "$region" --stack-name "$1" \
    --query 'Stacks[0].StackStatus' --output text >/dev/null 2>&1
}

targets=()
exists "$stack" && targets+=("$stack")
if $delete_config && exists "$config_stack"; then
  targets+=("$config_stack")
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "nothing to remove: no stack ${stack}$($delete_config && echo " or ${config_stack}") in ${region}" >&2
  exit 0
fi

if ! $yes && ! $dry_run; then
  [[ -t 0 ]] || die "not confirmed: run in a terminal or pass --yes"
  what="stack ${targets[*]} in ${region}"
  $delete_config && what+=" and every object in s3://${bucket}"
  read -r -p "Delete ${what}? Type the stack name (${stack}) to confirm: " answer
  [[ "$answer" == "$stack" ]] || die "not confirmed"
fi

delete_stack() {
  echo "==> deleting stack $1" >&2
  run aws cloudformation delete-stack --region "$region" --stack-name "$1"
  run aws cloudformation wait stack-delete-complete --region "$region" --stack-name "$1" \
    || die "stack $1 could not be deleted: see aws cloudformation describe-stack-events --stack-name $1"
}

if [[ " ${targets[*]} " == *" ${stack} "* ]]; then
  delete_stack "$stack"
fi

if $delete_config && [[ " ${targets[*]} " == *" ${config_stack} "* ]]; then
  # A versioned bucket is empty only without any version or delete marker;
  # delete-objects takes at most 1000 at a time.
  echo "==> emptying s3://${bucket}" >&2
  batch="$(mktemp)"
  trap 'rm -f "$batch"' EXIT
  while :; do
    query aws s3api list-object-versions --region "$region" --bucket "$bucket" --max-items 1000 --output json \
      | jq -c '{Objects: [((.Versions // []) + (.DeleteMarkers // []))[] | {Key, VersionId}], Quiet: true}' > "$batch"
    [[ "$(jq '.Objects | length' "$batch")" -gt 0 ]] || break
    run aws s3api delete-objects --region "$region" --bucket "$bucket" --delete "file://${batch}" >/dev/null
    $dry_run && break
  done
  delete_stack "$config_stack"
fi

if $dry_run; then
  echo "dry run: nothing was deleted" >&2
else
  echo "removed: ${targets[*]}" >&2
  $delete_config || echo "kept: stack ${config_stack} and s3://${bucket} (--delete-config removes them)" >&2
fi
