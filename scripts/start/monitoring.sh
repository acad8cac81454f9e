# shellcheck shell=bash
# Sourced by start.sh: --monitoring's Prometheus setup. monitoring/prometheus.yml and alerts.yml
# are copied as they are into MONITORING_DIR, and the targets they read (file_sd) are written
# beside them for this run's ports, each labelled with its part's name.
# Needs: ROOT, MONITORING_DIR, BOOKING_NAMES, EDGE_NAMES, part_port (parts.sh), die.

# targets_json NAME...: a file_sd list with one target per part, 127.0.0.1:its port.
targets_json() {
  local name sep=''
  printf '['
  for name in "$@"; do
    printf '%s\n  {"targets": ["127.0.0.1:%s"], "labels": {"part": "%s"}}' "$sep" "$(part_port "$name")" "$name"
    sep=','
  done
  printf '\n]\n'
}

write_monitoring_config() {
  mkdir -p "$MONITORING_DIR/targets" "$MONITORING_DIR/data" ||
    die "cannot create $MONITORING_DIR"
  cp "$ROOT/monitoring/prometheus.yml" "$ROOT/monitoring/alerts.yml" "$MONITORING_DIR/" ||
    die "cannot copy monitoring/prometheus.yml and alerts.yml into $MONITORING_DIR"
  # Written whole, then renamed: Prometheus watches these files and must never read half of one.
  targets_json "${BOOKING_NAMES[@]}" >"$MONITORING_DIR/targets/booking.json.new"
  targets_json "${EDGE_NAMES[@]}" >"$MONITORING_DIR/targets/edge.json.new"
  mv "$MONITORING_DIR/targets/booking.json.new" "$MONITORING_DIR/targets/booking.json"
  mv "$MONITORING_DIR/targets/edge.json.new" "$MONITORING_DIR/targets/edge.json"
}
