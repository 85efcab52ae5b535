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
each tagged with the commit (12 hex digits; "-dirty-TIME" with uncommitted
changes) and TAG if given. Creates missing ECR repositories with immutable
tags and scan on push (and sets both on existing ones), and logs Docker in
to ECR. A commit already pushed is not built again.

Prints the images pinned by digest (repository@sha256:...) as KEY=VALUE
lines for deploy.env.

  --dry-run   read the registry as the real run would, and print the
              commands that build or change anything instead of running them
  -h, --help  show this help

Needs: docker with buildx, the AWS CLI (credentials for the account), git, jq.
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
command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required: https://docs.aws.amazon.com/cli/"
command -v jq >/dev/null 2>&1 || die "jq is required: install it with your package manager"
if ! $dry_run; then
  command -v docker >/dev/null 2>&1 || die "docker is required: https://docs.docker.com/get-docker/"
  docker buildx version >/dev/null 2>&1 || die "docker buildx is required (Docker Desktop has it; on Linux install docker-buildx-plugin)"
  docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable: start Docker"
  aws sts get-caller-identity --query Account --output text >/dev/null 2>&1 \
    || die "the AWS CLI has no working credentials (aws configure, or AWS_PROFILE)"
fi

commit="$(git rev-parse --short=12 HEAD)"
if [[ -n "$(git status --porcelain)" ]]; then
  # Tags are immutable: each build of an uncommitted tree gets its own.
  commit="${commit}-dirty-$(date -u +%Y%m%d%H%M%S)"
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

# shellcheck source-path=SCRIPTDIR source=scripts/lib/dry-run.bash
source "${root}/scripts/lib/dry-run.bash"

login() {
  if $dry_run; then
    printf '+ aws ecr get-login-password --region %q | docker login --username AWS --password-stdin %q\n' "$region" "$registry"
  else
    aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry" >/dev/null
  fi
}

# ensure_repository creates a missing repository, and brings an existing one
# to immutable tags and scan on push: a pushed tag then always names the
# image that was scanned and deployed.
ensure_repository() {
  local name="$1" found
  if found="$(query aws ecr describe-repositories --region "$region" --repository-names "$name" \
      --query 'repositories[0].[imageTagMutability,imageScanningConfiguration.scanOnPush]' --output text 2>/dev/null)"; then
    read -r mutability scan <<<"$found"
    if [[ "$mutability" != IMMUTABLE ]]; then
      run aws ecr put-image-tag-mutability --region "$region" --repository-name "$name" --image-tag-mutability IMMUTABLE >/dev/null
    fi
    if [[ "${scan,,}" != true ]]; then
      run aws ecr put-image-scanning-configuration --region "$region" --repository-name "$name" \
        --image-scanning-configuration scanOnPush=true >/dev/null
    fi
  else
    run aws ecr create-repository --region "$region" --repository-name "$name" \
      --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE >/dev/null
  fi
}

# pushed_digest prints the digest of NAME:TAG in the registry, or nothing.
pushed_digest() {
  query aws ecr describe-images --region "$region" --repository-name "$1" --image-ids "imageTag=$2" \
    --query 'imageDetails[0].imageDigest' --output text 2>/dev/null || true
}

metadata="$(mktemp)"
trap 'rm -f "$metadata"' EXIT

login
refs=()
for spec in "${images[@]}"; do
  IFS='|' read -r name file context <<<"$spec"
  ensure_repository "$name"
  # Tags are immutable: a TAG that exists is refused before anything is
  # built, and a clean commit already pushed is not built again (a new TAG
  # is put on its manifest, the way ECR retags).
  existing=""
  if [[ -n "$tag" ]]; then
    existing="$(pushed_digest "$name" "$tag")"
    [[ "$existing" != sha256:* ]] || die "${name}:${tag} already exists and tags are immutable: choose another TAG"
  fi
  digest=""
  if [[ "$commit" != *-dirty* ]]; then
    digest="$(pushed_digest "$name" "$commit")"
    [[ "$digest" == sha256:* ]] || digest=""
  fi
  if [[ -n "$digest" ]]; then
    echo "build_images: ${name}:${commit} is already pushed (${digest})" >&2
    if [[ -n "$tag" ]]; then
      manifest="$(query aws ecr batch-get-image --region "$region" --repository-name "$name" --image-ids "imageDigest=${digest}" \
        --query 'images[0].imageManifest' --output text)"
      run aws ecr put-image --region "$region" --repository-name "$name" --image-tag "$tag" --image-manifest "$manifest" >/dev/null
    fi
  else
    tags=(--tag "${registry}/${name}:${commit}")
    [[ -z "$tag" ]] || tags+=(--tag "${registry}/${name}:${tag}")
    run docker buildx build --platform "$platform" --provenance=false \
      --build-arg "VERSION=${commit}" \
      "${tags[@]}" --file "$file" --metadata-file "$metadata" --push "$context"
    if $dry_run; then
      digest="sha256:DIGEST-OF-THE-PUSH"
    else
      digest="$(jq -r '."containerimage.digest" // empty' "$metadata")"
      [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "${name}: docker buildx reported no image digest"
    fi
  fi
  refs+=("${registry}/${name}@${digest}")
done

echo "# images pinned by digest (commit ${commit}), for deploy.env"
echo "SIDECAR_IMAGE=${refs[0]}"
echo "CONNECT_IMAGE=${refs[1]}"
echo "PROMETHEUS_IMAGE=${refs[2]}"
echo "GRAFANA_IMAGE=${refs[3]}"
