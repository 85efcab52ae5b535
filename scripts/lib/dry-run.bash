# Sourced by the operator scripts that call AWS. run makes a call that
# changes something, or, when the script's dry_run is true, prints it
# shell-quoted after "+ " instead. query makes a call that changes nothing
# (a describe, a list, a change set to preview) in a dry run too, and prints
# it there the same way. So a dry run prints exactly the calls a real run
# makes, in order, and decides as the real run would.

# File descriptor 3 is the script's stdout, also inside $(...), so that a
# call whose output a script captures is still shown.
exec 3>&1

show() {
  {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  } >&3
}

run() {
  if $dry_run; then
    show "$@"
  else
    "$@"
  fi
}

query() {
  if $dry_run; then
    show "$@"
  fi
  "$@"
}
