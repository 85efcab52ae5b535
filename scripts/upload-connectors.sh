#!/usr/bin/env bash
# Uploads the worker properties, the MM2 connector files and (mTLS) the
# keystore and truststore to the S3 prefix the Connect task reads, after
# checking every connector file.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/upload-connectors.sh --auth-mode MODE --s3-uri s3://BUCKET/PREFIX/ [options]

Checks and uploads, under the prefix:
  worker/connect-distributed.properties   the worker properties
  connectors/*.json                       one file per connector
  tls/keystore.p12, tls/truststore.p12    (with --keystore / --truststore)

  --auth-mode MODE      plaintext, scram, mtls or iam: picks
                        connect-image/workers/MODE.properties and
                        connect-image/connectors/MODE/ (required)
  --s3-uri URI          s3://bucket/prefix/ (required; the task definitions'
                        s3://${CONFIG_BUCKET}/${CONFIG_PREFIX})
  --connectors-dir DIR  upload your edited connector files instead
  --worker-file FILE    upload your edited worker properties instead
  --keystore FILE       PKCS#12 keystore for mtls
  --truststore FILE     PKCS#12 truststore for mtls
  --prune               delete connector files under the prefix that DIR
                        lacks (the sidecar deletes a connector only with
                        SIDECAR_PRUNE=true)
  --region REGION       AWS region (default: the AWS CLI's)
  --dry-run             check and read what is there, then print the AWS CLI
                        calls that would change anything instead of making them

A file the bucket already holds byte for byte is not uploaded again.
  -h, --help            show this help
USAGE
}

die() {
  echo "upload-connectors: $*" >&2
  exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=""
s3_uri=""
connectors_dir=""
worker_file=""
keystore=""
truststore=""
prune=false
region=""
dry_run=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    --auth-mode) [[ $# -ge 2 ]] || die "--auth-mode needs a mode"; mode="$2"; shift 2 ;;
    --s3-uri) [[ $# -ge 2 ]] || die "--s3-uri needs a URI"; s3_uri="$2"; shift 2 ;;
    --connectors-dir) [[ $# -ge 2 ]] || die "--connectors-dir needs a directory"; connectors_dir="$2"; shift 2 ;;
    --worker-file) [[ $# -ge 2 ]] || die "--worker-file needs a file"; worker_file="$2"; shift 2 ;;
    --keystore) [[ $# -ge 2 ]] || die "--keystore needs a file"; keystore="$2"; shift 2 ;;
    --truststore) [[ $# -ge 2 ]] || die "--truststore needs a file"; truststore="$2"; shift 2 ;;
    --prune) prune=true; shift ;;
    --region) [[ $# -ge 2 ]] || die "--region needs a region"; region="$2"; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

case "$mode" in
  plaintext|scram|mtls|iam) ;;
  "") die "--auth-mode is required: plaintext, scram, mtls or iam" ;;
  *) die "--auth-mode ${mode}: must be plaintext, scram, mtls or iam" ;;
esac
[[ "$s3_uri" =~ ^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$ ]] || die "--s3-uri '${s3_uri}': must be s3://bucket/prefix/"
s3_uri="${s3_uri%/}/"
connectors_dir="${connectors_dir:-${repo_root}/connect-image/connectors/${mode}}"
worker_file="${worker_file:-${repo_root}/connect-image/workers/${mode}.properties}"
[[ -d "$connectors_dir" ]] || die "${connectors_dir}: not a directory"
[[ -r "$worker_file" ]] || die "${worker_file}: cannot read the worker properties"
if [[ "$mode" == mtls && ( -z "$keystore" || -z "$truststore" ) ]]; then
  die "mtls needs --keystore and --truststore (PKCS#12 files the worker reads from /config)"
fi
for f in "$keystore" "$truststore"; do
  [[ -z "$f" || -r "$f" ]] || die "${f}: cannot read"
done
command -v jq >/dev/null 2>&1 || die "jq is required: install it with your package manager"
$dry_run || command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required: https://docs.aws.amazon.com/cli/"

# Each connector file: {"name", "config"} (or a flat map with "name"), the
# name matching the file, and no secret outside a ${env:...}/${file:...}.
shopt -s nullglob
files=("${connectors_dir}"/*.json)
[[ ${#files[@]} -gt 0 ]] || die "${connectors_dir}: no *.json connector files"
for f in "${files[@]}"; do
  problem="$(jq -r --arg file "$(basename "$f" .json)" '
    (if has("config") then .config + {name: .name} else . end) as $c
    | if ($c.name | type) != "string" or $c.name == "" then "has no name"
      elif $c.name != $file then "is named \($c.name) but the file is \($file).json"
      elif ($c["connector.class"] // "") == "" then "has no connector.class"
      else ([$c | to_entries[]
             | select(
                 ((.key | test("jaas\\.config$")) and (.value | tostring | test("(?i)password=\"(?!\\$\\{)")))
                 or ((.key | test("password|secret"; "i")) and (.value | tostring | test("\\$\\{(env|file):") | not)))
             | .key] | if length > 0 then "holds a literal secret in " + join(", ") else empty end)
      end' "$f" 2>&1)" || die "${f}: not valid JSON: ${problem}"
  [[ -z "$problem" ]] || die "${f}: ${problem}"
done

# shellcheck source-path=SCRIPTDIR source=lib/dry-run.bash
source "${repo_root}/scripts/lib/dry-run.bash"

region_args=()
[[ -z "$region" ]] || region_args=(--region "$region")

bucket="${s3_uri#s3://}"
bucket="${bucket%%/*}"
prefix="${s3_uri#s3://"${bucket}"/}"

# put FILE KEY uploads a file unless the object already holds exactly it:
# every upload is a new version in a versioned bucket. The ETag of a
# single-part upload (SSE-S3 or none) is the MD5 of its bytes.
put() {
  local file="$1" key="${prefix}$2" etag
  etag="$(query aws ${region_args[@]+"${region_args[@]}"} s3api head-object --bucket "$bucket" --key "$key" \
    --query ETag --output text 2>/dev/null)" || etag=""
  if [[ "$etag" == "\"$(md5sum "$file" | cut -d' ' -f1)\"" ]]; then
    echo "unchanged: s3://${bucket}/${key}" >&2
    return
  fi
  run aws ${region_args[@]+"${region_args[@]}"} s3 cp --only-show-errors "$file" "s3://${bucket}/${key}"
}

put "$worker_file" worker/connect-distributed.properties
sync_args=(--only-show-errors --exclude '*' --include '*.json')
$prune && sync_args+=(--delete)
run aws ${region_args[@]+"${region_args[@]}"} s3 sync "${sync_args[@]}" "$connectors_dir" "${s3_uri}connectors/"
[[ -z "$keystore" ]] || put "$keystore" tls/keystore.p12
[[ -z "$truststore" ]] || put "$truststore" tls/truststore.p12
if $dry_run; then
  echo "dry run: would upload ${#files[@]} connector files for ${mode} to ${s3_uri}" >&2
else
  echo "uploaded ${#files[@]} connector files for ${mode} to ${s3_uri}" >&2
fi
