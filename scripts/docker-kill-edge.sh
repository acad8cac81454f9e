#!/usr/bin/env bash
# docker-kill-edge.sh: kill one edge container of the compose stack (./start.sh --docker), as
# scripts/kill-edge.sh kills a native one, to show (or test) that its clients reconnect through
# NGINX to another edge.
#
#   scripts/docker-kill-edge.sh edge-3000            # the edge whose EDGE_ID is edge-3000
#   scripts/docker-kill-edge.sh edge-3001 PROJECT    # of compose project PROJECT [seatmap]
#   SIGNAL=TERM scripts/docker-kill-edge.sh edge-3000   # a clean stop instead of a crash
#
# The container is found by its EDGE_ID (edge-3000 and edge-3001; edge-1 and edge-2 in the
# cluster profile) and killed with `docker kill` (SIGKILL by default). Docker does not restart a
# container killed that way, so the edge stays down until the stack is started again.
set -euo pipefail
case ${1:-} in
  -h|--help) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
  '') sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
id=$1
[[ $id =~ ^[0-9]+$ ]] && id="edge-$id"
project=${2:-${COMPOSE_PROJECT_NAME:-seatmap}}
signal=${SIGNAL:-KILL}

container=
running=
for c in $(docker ps -q --filter "label=com.docker.compose.project=$project"); do
  edge_id=$(docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$c" | sed -n 's/^EDGE_ID=//p')
  [[ -n $edge_id ]] || continue
  running+="$edge_id "
  [[ $edge_id == "$id" ]] && container=$c
done
if [[ -z $container ]]; then
  echo "docker-kill-edge: no running edge $id in the compose project $project${running:+ (running edges: $running)}" >&2
  exit 1
fi
name=$(docker inspect --format '{{.Name}}' "$container")
docker kill --signal "$signal" "$container" >/dev/null
# A TERMed edge drains its sockets first: wait until the container has stopped (up to 10 s).
for (( i = 0; i < 100; i++ )); do
  [[ $(docker inspect --format '{{.State.Running}}' "$container") == false ]] && break
  sleep 0.1
done
[[ $(docker inspect --format '{{.State.Running}}' "$container") == false ]] ||
  { echo "docker-kill-edge: $id (${name#/}) still runs after SIG$signal" >&2; exit 1; }
echo "docker-kill-edge: killed $id (container ${name#/}) with SIG$signal"
