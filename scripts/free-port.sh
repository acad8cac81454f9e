# Sourced by test.sh and scripts/bench.sh: free_port prints a free loopback port (with an argument
# n, the first of n consecutive free ones), below Linux's ephemeral range (32768+) so no outgoing
# connection can take it meanwhile, and never one it handed out before in this shell.
# free_cluster_ports n: the same for n Redis Cluster nodes, whose bus ports (each port + 10000,
# as start.sh runs them) must be free and below that range too.
taken=" "
# ports_free FIRST N: none of FIRST .. FIRST+N-1 handed out before or answering on loopback.
ports_free() {
  local i
  for ((i = 0; i < $2; i++)); do
    if [[ $taken == *" $(($1 + i)) "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$(($1 + i))") 2>/dev/null; then return 1; fi
  done
}
take_ports() { local i; for ((i = 0; i < $2; i++)); do taken+="$(($1 + i)) "; done; }
free_port() {
  local n=${1:-1} p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ports_free "$p" "$n"; then take_ports "$p" "$n"; echo "$p"; return; fi
  done
}
free_cluster_ports() {
  local n=${1:?free_cluster_ports N} p
  while :; do
    p=$((20000 + RANDOM % 2700))
    if ports_free "$p" "$n" && ports_free $((p + 10000)) "$n"; then
      take_ports "$p" "$n"; take_ports $((p + 10000)) "$n"; echo "$p"; return
    fi
  done
}
