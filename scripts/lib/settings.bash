# Sourced by scripts/deploy.sh and scripts/destroy.sh. load_settings reads a
# deploy.env (KEY=VALUE lines; nothing is evaluated by a shell) into the
# associative array settings, fills the defaults, checks every value and
# stops with one line per problem, naming the file and the key. It sets
# region, stack and config_stack.

declare -A settings=()

# The stack parameter of each setting is its name in PascalCase
# (NAME_PREFIX -> NamePrefix); these are the settings the stack takes.
stack_keys=(
  NAME_PREFIX ECS_CLUSTER CONNECT_SERVICE LOG_GROUP LOG_RETENTION_DAYS VPC_ID SUBNET_IDS
  GRAFANA_INGRESS_CIDR AUTH_MODE SOURCE_BOOTSTRAP_SERVERS TARGET_BOOTSTRAP_SERVERS
  SIDECAR_IMAGE CONNECT_IMAGE PROMETHEUS_IMAGE GRAFANA_IMAGE CONNECT_CPU CONNECT_MEMORY
  MIN_TASKS MAX_TASKS CONFIG_BUCKET CONFIG_PREFIX CLOUDWATCH_NAMESPACE DNS_NAMESPACE
  GRAFANA_ADMIN_SECRET_ARN SOURCE_CREDENTIALS_SECRET_ARN TARGET_CREDENTIALS_SECRET_ARN
  TLS_SECRET_ARN SOURCE_MSK_CLUSTER TARGET_MSK_CLUSTER
)

# load_settings FILE FOR: FOR is deploy (every check) or destroy (names only).
# It first stops (through the caller's die) when FILE is missing or
# unreadable, or when aws or jq is not installed.
load_settings() {
  local file="$1" purpose="$2" line key value problems=()
  [[ -n "$file" ]] || die "--env-file is required (start from taskdefs/deploy.env.example)"
  [[ -r "$file" ]] || die "${file}: cannot read the env file"
  command -v jq >/dev/null 2>&1 || die "jq is required: install it with your package manager"
  command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required: https://docs.aws.amazon.com/cli/"
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ "$line" =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]]; then
      settings[${BASH_REMATCH[1]}]="${BASH_REMATCH[2]}"
    else
      problems+=("${file}: line \"${line}\" is not KEY=VALUE")
    fi
  done < "$file"

  : "${settings[NAME_PREFIX]:=mm2}"
  : "${settings[STACK_NAME]:=${settings[NAME_PREFIX]}}"
  : "${settings[LOG_RETENTION_DAYS]:=30}"
  : "${settings[CONNECT_CPU]:=2048}"
  : "${settings[CONNECT_MEMORY]:=8192}"
  : "${settings[CLOUDWATCH_NAMESPACE]:=MM2/Connect}"
  : "${settings[CONFIG_PREFIX]:=mm2/}"

  need() {
    local k
    for k in "$@"; do
      [[ -n "${settings[$k]:-}" ]] || problems+=("${file}: ${k} is not set")
    done
  }
  match() { # KEY REGEX WHAT
    [[ -z "${settings[$1]:-}" || "${settings[$1]}" =~ $2 ]] || problems+=("${file}: $1=${settings[$1]}: $3")
  }

  need REGION STACK_NAME CONFIG_BUCKET
  match REGION '^[a-z]{2}(-[a-z]+)+-[0-9]+$' "not an AWS region name such as eu-west-1"
  match STACK_NAME '^[A-Za-z][A-Za-z0-9-]{0,100}$' "not a CloudFormation stack name"
  match CONFIG_BUCKET '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' "not an S3 bucket name"

  if [[ "$purpose" == deploy ]]; then
    need ACCOUNT_ID ECS_CLUSTER CONNECT_SERVICE LOG_GROUP VPC_ID SUBNET_IDS GRAFANA_INGRESS_CIDR AUTH_MODE \
      SOURCE_BOOTSTRAP_SERVERS TARGET_BOOTSTRAP_SERVERS SIDECAR_IMAGE CONNECT_IMAGE PROMETHEUS_IMAGE GRAFANA_IMAGE \
      MIN_TASKS MAX_TASKS GRAFANA_ADMIN_SECRET_ARN CONNECT_DNS_NAME PROMETHEUS_DNS_NAME
    match NAME_PREFIX '^[a-z0-9][a-z0-9-]{0,19}$' "use up to 20 lower-case letters, digits and -"
    match ACCOUNT_ID '^[0-9]{12}$' "must be the 12-digit AWS account ID"
    match AUTH_MODE '^(plaintext|scram|mtls|iam)$' "must be plaintext, scram, mtls or iam"
    match VPC_ID '^vpc-[0-9a-f]+$' "not a VPC ID"
    match SUBNET_IDS '^subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*$' "must be subnet IDs separated by commas"
    match GRAFANA_INGRESS_CIDR '^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$' "not an IPv4 CIDR"
    match MIN_TASKS '^[1-9][0-9]*$' "must be a whole number of at least 1"
    match MAX_TASKS '^[1-9][0-9]*$' "must be a whole number of at least 1"
    match CONFIG_PREFIX '^([A-Za-z0-9!_.*()-]+/)*$' "must be empty or end with /"
    local img
    for img in SIDECAR_IMAGE CONNECT_IMAGE PROMETHEUS_IMAGE GRAFANA_IMAGE; do
      match "$img" '^[^@]+@sha256:[0-9a-f]{64}$' "must be pinned by digest (repository@sha256:..., as build_images.sh prints)"
    done
    if [[ "${settings[MIN_TASKS]:-}" =~ ^[0-9]+$ && "${settings[MAX_TASKS]:-}" =~ ^[0-9]+$ ]] && (( settings[MAX_TASKS] < settings[MIN_TASKS] )); then
      problems+=("${file}: MAX_TASKS=${settings[MAX_TASKS]} is below MIN_TASKS=${settings[MIN_TASKS]}")
    fi
    # Cloud Map names: connect.NS and prometheus.NS of one namespace.
    local ns="${settings[CONNECT_DNS_NAME]#connect.}"
    if [[ -n "${settings[CONNECT_DNS_NAME]:-}" && ( "$ns" == "${settings[CONNECT_DNS_NAME]}" || -z "$ns" ) ]]; then
      problems+=("${file}: CONNECT_DNS_NAME=${settings[CONNECT_DNS_NAME]}: must be connect.NAMESPACE (the stack registers the service connect)")
    elif [[ -n "${settings[PROMETHEUS_DNS_NAME]:-}" && "${settings[PROMETHEUS_DNS_NAME]}" != "prometheus.${ns}" ]]; then
      problems+=("${file}: PROMETHEUS_DNS_NAME=${settings[PROMETHEUS_DNS_NAME]}: must be prometheus.${ns}, in the namespace of CONNECT_DNS_NAME")
    fi
    settings[DNS_NAMESPACE]="$ns"
    # The execution role may read only the secrets named NAME_PREFIX/...
    # of this account and region.
    local secret_prefix="arn:aws[a-z-]*:secretsmanager:${settings[REGION]:-}:${settings[ACCOUNT_ID]:-}:secret:${settings[NAME_PREFIX]}/"
    local secrets=(GRAFANA_ADMIN_SECRET_ARN) s
    case "${settings[AUTH_MODE]:-}" in
      scram) secrets+=(SOURCE_CREDENTIALS_SECRET_ARN TARGET_CREDENTIALS_SECRET_ARN) ;;
      mtls) secrets+=(TLS_SECRET_ARN); need KEYSTORE_FILE TRUSTSTORE_FILE ;;
      iam) need SOURCE_MSK_CLUSTER TARGET_MSK_CLUSTER ;;
    esac
    need "${secrets[@]}"
    for s in "${secrets[@]}"; do
      match "$s" "^${secret_prefix}" "must be a secret of account ${settings[ACCOUNT_ID]:-?} in ${settings[REGION]:-?} named ${settings[NAME_PREFIX]}/... (the execution role reads only those)"
    done
    # Settings of modes not in use are not passed to the stack.
    case "${settings[AUTH_MODE]:-}" in
      scram) ;; *) settings[SOURCE_CREDENTIALS_SECRET_ARN]=""; settings[TARGET_CREDENTIALS_SECRET_ARN]="" ;;
    esac
    [[ "${settings[AUTH_MODE]:-}" == mtls ]] || settings[TLS_SECRET_ARN]=""
    [[ "${settings[AUTH_MODE]:-}" == iam ]] || { settings[SOURCE_MSK_CLUSTER]=""; settings[TARGET_MSK_CLUSTER]=""; }
  fi

  if [[ ${#problems[@]} -gt 0 ]]; then
    local problem
    for problem in "${problems[@]}"; do
      echo "${purpose}: ${problem}" >&2
    done
    exit 1
  fi
  region="${settings[REGION]}"
  stack="${settings[STACK_NAME]}"
  config_stack="${stack}-config"
}

# stack_parameters prints the --parameters JSON of the stack.
stack_parameters() {
  local key name args=()
  for key in "${stack_keys[@]}"; do
    name=""
    local part
    IFS=_ read -ra parts <<<"${key,,}"
    for part in "${parts[@]}"; do
      name+="${part^}"
    done
    args+=("$name" "${settings[$key]:-}")
  done
  jq -cn '[$ARGS.positional | range(0; length; 2) as $i | {ParameterKey: .[$i], ParameterValue: .[$i + 1]}]' --args "${args[@]}"
}
