# shellcheck shell=bash disable=SC2034  # the *_GENERATED flags are read by start.sh
# Sourced by start.sh: the run's secrets (ADMIN_TOKEN, TOKEN_SECRET, INTERNAL_TOKEN), the per-IP limits NGINX
# enforces, and who may reach the admin API. Why these limits: docs/security.md.
# Needs: RUN_DIR, say, die. Sets and exports what the services and render-nginx.sh read.

random_hex() { # N bytes from the system's random source, as hex
  local t
  t=$(od -vAn -N"$1" -tx1 /dev/urandom 2>/dev/null | tr -d ' \n') || true
  [[ ${#t} -eq $(( $1 * 2 )) ]] || die "cannot read /dev/urandom to make a secret"
  printf '%s\n' "$t"
}

# ADMIN_TOKEN: printed at start (the demo's reset command shows it).
ADMIN_TOKEN_GENERATED=0
if [[ -z ${ADMIN_TOKEN:-} ]]; then
  ADMIN_TOKEN="admin-$(random_hex 16)"
  ADMIN_TOKEN_GENERATED=1
fi
export ADMIN_TOKEN

# TOKEN_SECRET: signs every identity. One per run unless given; never printed or written to
# disk by start.sh. A new secret makes every earlier token UNAUTHORIZED (pages then start as
# new visitors), so give the same TOKEN_SECRET to keep identities across restarts.
TOKEN_SECRET_GENERATED=0
if [[ -z ${TOKEN_SECRET:-} ]]; then
  TOKEN_SECRET=$(random_hex 32)
  TOKEN_SECRET_GENERATED=1
fi
(( ${#TOKEN_SECRET} >= 16 )) || die "TOKEN_SECRET must be at least 16 characters (e.g. TOKEN_SECRET=\$(openssl rand -hex 32))"
export TOKEN_SECRET
# INTERNAL_TOKEN: what the booking service's /internal/ routes require of the edges. One per run
# unless given; never printed.
if [[ -z ${INTERNAL_TOKEN:-} ]]; then INTERNAL_TOKEN=$(random_hex 32); fi
(( ${#INTERNAL_TOKEN} >= 16 )) || die "INTERNAL_TOKEN must be at least 16 characters (e.g. INTERNAL_TOKEN=\$(openssl rand -hex 32))"
export INTERNAL_TOKEN
# Origins allowed to open the WebSocket (the edge's default: the page's own origin).
if [[ -n ${ALLOWED_ORIGINS:-} ]]; then export ALLOWED_ORIGINS; fi

# Per-IP limits in NGINX: LIMIT_SPECS (name, default, meaning), shared with render-nginx.sh.
# shellcheck source=scripts/start/limits.sh
. "$ROOT/scripts/start/limits.sh"
for spec in "${LIMIT_SPECS[@]}"; do
  read -r name default _ <<<"$spec"
  printf -v "$name" '%s' "${!name:-$default}"
  if ! [[ ${!name} =~ ^[0-9]+$ ]] || (( ${!name} < 1 || ${!name} > 1000000 )); then
    die "$name must be a whole number from 1 to 1000000, got '${!name}'"
  fi
  export "${name?}"
done

# Who may reach /api/admin/ through NGINX: "local" (127.0.0.1 and ::1), "any", or a list of
# addresses or CIDR blocks separated by commas or spaces (loopback is always allowed too).
ADMIN_FROM=${ADMIN_FROM:-local}
case $ADMIN_FROM in
  local) ADMIN_ACCESS='allow 127.0.0.1; allow ::1; deny all;' ;;
  any)   ADMIN_ACCESS='allow all;' ;;
  *)
    ADMIN_ACCESS='allow 127.0.0.1; allow ::1;'
    for a in ${ADMIN_FROM//,/ }; do
      [[ $a =~ ^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$ ]] ||
        die "ADMIN_FROM: '$a' is not an address or CIDR block (use local, any, or e.g. 10.0.0.0/8,192.168.1.5)"
      ADMIN_ACCESS+=" allow $a;"
    done
    ADMIN_ACCESS+=' deny all;'
    ;;
esac
export ADMIN_FROM ADMIN_ACCESS

# What this run uses, for people and for tests (./test.sh reads it): $RUN_DIR/limits.env.
write_settings() {
  local spec name
  {
    echo "# Written by start.sh: the per-IP limits NGINX enforces in this run (docs/security.md)."
    for spec in "${LIMIT_SPECS[@]}"; do
      read -r name _ <<<"$spec"
      printf '%s=%s\n' "$name" "${!name}"
    done
    printf 'ADMIN_FROM=%q\n' "$ADMIN_FROM"
  } >"$RUN_DIR/limits.env"
  (umask 077 && printf '%s\n' "$ADMIN_TOKEN" >"$RUN_DIR/admin_token")
}
