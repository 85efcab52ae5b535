# Sourced by the operator scripts that call AWS. run makes one call, or, when
# the script's dry_run is true, prints it shell-quoted after "+ " instead, so
# that a dry run shows exactly the calls a real run would make.
run() {
  if $dry_run; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}
