# Sourced by test.sh and scripts/bench.sh: free_port prints a free loopback port (with an argument
# n, the first of n consecutive free ones), below Linux's ephemeral range (32768+) so no outgoing
# connection can take it meanwhile, and never one it handed out before in this shell.
taken=" "
free_port() {
  local n=${1:-1} p i ok
  while :; do
    p=$((20000 + RANDOM % 12000)); ok=1
    for ((i = 0; i < n; i++)); do
      if [[ $taken == *" $((p + i)) "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$((p + i))") 2>/dev/null; then ok=0; break; fi
    done
    if ((ok)); then for ((i = 0; i < n; i++)); do taken+="$((p + i)) "; done; echo "$p"; return; fi
  done
}
