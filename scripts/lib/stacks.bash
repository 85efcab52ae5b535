# Sourced by scripts/deploy.sh after dry-run.bash. deploy_stack creates or
# updates one stack through a change set and shows the change set first;
# in a dry run it previews the change set and removes it again.

# Callers test its status, which turns off set -e inside it: every call
# that must not fail says so with || die.
#
# deploy_stack NAME TEMPLATE PARAMETERS_JSON [CAPABILITY]: returns 0 when the
# stack changed (or would), 1 when it was already as asked.
deploy_stack() {
  local name="$1" template="$2" parameters="$3" capability="${4:-}" status type change_set id state reason
  status="$(query aws cloudformation describe-stacks --region "$region" --stack-name "$name" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null)" || status=NONE
  case "$status" in
    NONE|REVIEW_IN_PROGRESS) type=CREATE ;;
    ROLLBACK_COMPLETE|ROLLBACK_FAILED|DELETE_FAILED)
      die "stack ${name} is ${status}: it never came up; remove it with scripts/destroy.sh and deploy again" ;;
    *_IN_PROGRESS) die "stack ${name} is ${status}: wait until it finishes, then deploy again" ;;
    *) type=UPDATE ;;
  esac
  change_set="deploy-$(date -u +%Y%m%d%H%M%S)"
  local caps=()
  [[ -z "$capability" ]] || caps=(--capabilities "$capability")
  local err
  err="$(mktemp)"
  # CloudFormation reports an unchanged stack through the change set's
  # status; some implementations refuse the change set itself instead.
  if ! id="$(query aws cloudformation create-change-set --region "$region" --stack-name "$name" \
    --change-set-name "$change_set" --change-set-type "$type" --template-body "file://${template}" \
    --parameters "$parameters" ${caps[@]+"${caps[@]}"} --query Id --output text 2>"$err")"; then
    if grep -q "No updates are to be performed" "$err"; then
      rm -f "$err"
      echo "stack ${name}: no changes" >&2
      return 1
    fi
    cat "$err" >&2
    rm -f "$err"
    die "stack ${name}: the change set was refused (see above)"
  fi
  rm -f "$err"
  while :; do
    state="$(query aws cloudformation describe-change-set --region "$region" --change-set-name "$id" \
      --query '[Status,StatusReason]' --output text)" || die "stack ${name}: cannot read the change set ${id}"
    case "$state" in
      CREATE_PENDING*|CREATE_IN_PROGRESS*) sleep 2 ;;
      *) break ;;
    esac
  done
  read -r state reason <<<"$state"
  if [[ "$state" == FAILED ]]; then
    query aws cloudformation delete-change-set --region "$region" --change-set-name "$id" || die "stack ${name}: cannot remove the empty change set ${id}"
    if [[ "$reason" == *"didn't contain changes"* || "$reason" == *"No updates are to be performed"* ]]; then
      echo "stack ${name}: no changes" >&2
      return 1
    fi
    die "stack ${name}: change set failed: ${reason}"
  fi
  echo "stack ${name}: ${type,,} with these changes (action, resource, type, replacement):" >&2
  query aws cloudformation describe-change-set --region "$region" --change-set-name "$id" \
    --query 'Changes[].ResourceChange.[Action,LogicalResourceId,ResourceType,Replacement]' --output text >&2
  if $dry_run; then
    # The preview is not part of the deployment: remove what it created.
    if [[ "$type" == CREATE ]]; then
      aws cloudformation delete-stack --region "$region" --stack-name "$name"
    else
      aws cloudformation delete-change-set --region "$region" --change-set-name "$id"
    fi
    echo "dry run: previewed change set of ${name} removed" >&2
    run aws cloudformation execute-change-set --region "$region" --change-set-name "$id"
    run aws cloudformation wait "stack-${type,,}-complete" --region "$region" --stack-name "$name"
    return 0
  fi
  run aws cloudformation execute-change-set --region "$region" --change-set-name "$id" || die "stack ${name}: the change set could not be executed"
  if ! run aws cloudformation wait "stack-${type,,}-complete" --region "$region" --stack-name "$name"; then
    aws cloudformation describe-stack-events --region "$region" --stack-name "$name" \
      --query 'StackEvents[?ends_with(ResourceStatus, `FAILED`)].[LogicalResourceId,ResourceStatusReason]' --output text >&2 || true
    die "stack ${name}: ${type,,} failed (the failed resources are above)"
  fi
  echo "stack ${name}: ${type,,} complete" >&2
  return 0
}
