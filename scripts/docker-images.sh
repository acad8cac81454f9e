# shellcheck shell=bash
# Sourced by scripts/docker-start.sh: the base image, the services' binaries and the four images
# of the compose stack, and Prometheus's with --monitoring (prepare_images). Reads ROOT, LOG_DIR,
# NO_BUILD, MONITORING, SEATMAP_TAG, BIN_DIR, BASE_IMAGE, SEATMAP_DOCKER_NO_CACHE; sets and
# exports BASE_IMAGE; say, die.

IMAGES=(app redis nats nginx)
(( ! MONITORING )) || IMAGES+=(prometheus)

# image_context NAME: the build context of seatmap-NAME (the app's is the repository).
image_context() { if [[ $1 == app ]]; then echo "$ROOT"; else echo "$ROOT/docker/$1"; fi; }

# The binaries the app image copies, as a path in the build context: target/release after a
# cargo build; BIN_DIR's when set (copied into target/docker-bin unless it is target/<profile>).
app_bin_dir() {
  local dir b
  if [[ -n ${BIN_DIR:-} ]]; then
    dir=$(cd "$BIN_DIR" && pwd) || die "BIN_DIR=$BIN_DIR is not a directory"
  else
    dir="$ROOT/target/release"
    if (( ! NO_BUILD )); then
      command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs), or set BIN_DIR to prebuilt binaries"
      say "building: cargo build --release -p booking-service -p edge-server (in $ROOT)" >&2
      (cd "$ROOT" && cargo build --release -p booking-service -p edge-server 9>&-) >&2 ||
        die "cargo build failed (see above)"
    fi
  fi
  for b in booking-service edge-server; do
    [[ -x $dir/$b ]] || die "$dir/$b not found or not executable$( (( NO_BUILD )) && echo ' (run without --no-build to build it)')"
  done
  case $dir in
    "$ROOT/target/release"|"$ROOT/target/debug") echo "${dir#"$ROOT/"}" ;;
    *)
      mkdir -p "$ROOT/target/docker-bin"
      cp "$dir/booking-service" "$dir/edge-server" "$ROOT/target/docker-bin/"
      echo target/docker-bin
      ;;
  esac
}

# build_images BIN_DIR: the four images at once (one log each in LOG_DIR), from BASE_IMAGE.
build_images() {
  local bin_dir=$1 name pid failed=0 no_cache=()
  local -A pids=()
  [[ ${SEATMAP_DOCKER_NO_CACHE:-0} == 1 ]] && no_cache=(--no-cache)
  for name in "${IMAGES[@]}"; do
    # The legacy builder: docker-compose 1.29 and Debian's docker.io have no BuildKit.
    DOCKER_BUILDKIT=0 docker build "${no_cache[@]}" --build-arg BASE_IMAGE="$BASE_IMAGE" \
      --build-arg BIN_DIR="$bin_dir" -t "seatmap-$name:$SEATMAP_TAG" "$(image_context "$name")" \
      </dev/null >"$LOG_DIR/docker-build-$name.log" 2>&1 9>&- &
    pids[$name]=$!
  done
  for name in "${IMAGES[@]}"; do
    pid=${pids[$name]}
    if ! wait "$pid"; then
      printf -- '----- last lines of %s -----\n' "$LOG_DIR/docker-build-$name.log" >&2
      tail -n 20 "$LOG_DIR/docker-build-$name.log" >&2
      failed=1
    fi
  done
  (( ! failed )) || die "an image did not build (see above)"
}

prepare_images() {
  local bin_dir t0=$SECONDS name missing=0
  if (( NO_BUILD )); then
    for name in "${IMAGES[@]}"; do docker image inspect "seatmap-$name:$SEATMAP_TAG" >/dev/null 2>&1 || missing=1; done
    if (( ! missing )); then
      say "--no-build: using the images seatmap-{$(IFS=,; echo "${IMAGES[*]}")}:$SEATMAP_TAG as they are"
      return 0
    fi
  fi
  BASE_IMAGE=$("$ROOT/scripts/docker-base.sh" 9>&-) || die "no base image (see above)"
  export BASE_IMAGE
  bin_dir=$(app_bin_dir) || exit 1
  say "building the images seatmap-{$(IFS=,; echo "${IMAGES[*]}")}:$SEATMAP_TAG from $BASE_IMAGE (binaries from $bin_dir; logs in $LOG_DIR/docker-build-*.log)"
  build_images "$bin_dir"
  say "images built in $(( SECONDS - t0 ))s"
}
