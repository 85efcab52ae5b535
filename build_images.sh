#!/usr/bin/env bash
# Builds the four images of the toolkit for linux/amd64 (Fargate's x86_64
# platform, also from ARM hosts through buildx), tags them with the git
# commit and an optional tag, pushes them to ECR and prints their URIs.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./build_images.sh [--dry-run] ACCOUNT_ID REGION [TAG]

Builds and pushes to ACCOUNT_ID.dkr.ecr.REGION.amazonaws.com:
  mm2-connect-sidecar   sidecar/Dockerfile (context: repository root)
  mm2-connect           connect-image/
  mm2-prometheus        prometheus-image/
  mm2-grafana           grafana/
each tagged with the commit (12 hex digits, "-dirty" with uncommitted
changes) and TAG if given. Creates missing ECR repositories (scan on push)
and logs Docker in to ECR.

Prints the image URIs as KEY=VALUE lines for taskdefs/deploy.env.

  --dry-run   check the arguments and print the commands instead of running them
  -h, --help  show this help

Needs: docker with buildx, the AWS CLI (credentials for the account), git.
Environment: IMAGE_PREFIX (default mm2), PLATFORM (default linux/amd64).
IMAGE_PREFIX must equal NAME_PREFIX in deploy.env: the execution role may
pull only from the ${NAME_PREFIX}-* repositories.
USAGE
}

die() {
  echo "build_images: $*" >&2
  exit 1
}

dry_run=false
positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[[ ${#positional[@]} -ge 2 && ${#positional[@]} -le 3 ]] || { usage >&2; exit 2; }
account="${positional[0]}"
region="${positional[1]}"
tag="${positional[2]:-}"

[[ "$account" =~ ^[0-9]{12}$ ]] || die "ACCOUNT_ID '${account}': must be the 12-digit AWS account ID"
[[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "REGION '${region}': not an AWS region name such as eu-west-1"
[[ -z "$tag" || "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "TAG '${tag}': not a valid image tag"
prefix="${IMAGE_PREFIX:-mm2}"
[[ "$prefix" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "IMAGE_PREFIX '${prefix}': use lower-case letters, digits, . _ -"
platform="${PLATFORM:-linux/amd64}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

# Prerequisites, each with the way to get it.
command -v git >/dev/null 2>&1 || die "git is required"
git rev-parse --git-dir >/dev/null 2>&1 || die "${root} is not a git checkout: the commit tags the images"
if ! $dry_run; then
  command -v docker >/dev/null 2>&1 || die "docker is required: https://docs.docker.com/get-docker/"
  docker buildx version >/dev/null 2>&1 || die "docker buildx is required (Docker Desktop has it; on Linux install docker-buildx-plugin)"
  docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable: start Docker"
  command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required: https://docs.aws.amazon.com/cli/"
  aws sts get-caller-identity --query Account --output text >/dev/null 2>&1 \
    || die "the AWS CLI has no working credentials (aws configure, or AWS_PROFILE)"
fi

commit="$(git rev-parse --short=12 HEAD)"
if [[ -n "$(git status --porcelain)" ]]; then
  commit="${commit}-dirty"
fi
registry="${account}.dkr.ecr.${region}.amazonaws.com"

# name|dockerfile|context
images=(
  "${prefix}-connect-sidecar|sidecar/Dockerfile|."
  "${prefix}-connect|connect-image/Dockerfile|connect-image"
  "${prefix}-prometheus|prometheus-image/Dockerfile|prometheus-image"
  "${prefix}-grafana|grafana/Dockerfile|grafana"
)
for spec in "${images[@]}"; do
  IFS='|' read -r _ file _ <<<"$spec"
  [[ -f "$file" ]] || die "${file} is missing"
done

run() {
  if $dry_run; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

login() {
  if $dry_run; then
    printf '+ aws ecr get-login-password --region %q | docker login --username AWS --password-stdin %q\n' "$region" "$registry"
  else
    aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry" >/dev/null
  fi
}

ensure_repository() {
  local name="$1"
  if $dry_run; then
    run aws ecr create-repository --region "$region" --repository-name "$name" \
      --image-scanning-configuration scanOnPush=true --image-tag-mutability MUTABLE
    return
  fi
  aws ecr describe-repositories --region "$region" --repository-names "$name" >/dev/null 2>&1 \
    || aws ecr create-repository --region "$region" --repository-name "$name" \
         --image-scanning-configuration scanOnPush=true --image-tag-mutability MUTABLE >/dev/null
}

login
uris=()
for spec in "${images[@]}"; do
  IFS='|' read -r name file context <<<"$spec"
  ensure_repository "$name"
  tags=(--tag "${registry}/${name}:${commit}")
  [[ -z "$tag" ]] || tags+=(--tag "${registry}/${name}:${tag}")
  run docker buildx build --platform "$platform" --provenance=false \
    --build-arg "VERSION=${commit}" \
    "${tags[@]}" --file "$file" --push "$context"
  uris+=("${registry}/${name}:${commit}")
done

echo "# image URIs for taskdefs/deploy.env"
echo "SIDECAR_IMAGE=${uris[0]}"
echo "CONNECT_IMAGE=${uris[1]}"
echo "PROMETHEUS_IMAGE=${uris[2]}"
echo "GRAFANA_IMAGE=${uris[3]}"
