#!/usr/bin/env bash
# The booking service against its own OpenAPI document: schemathesis (pinned, installed with pip
# in a venv under a cache directory) sends every operation generated valid and invalid requests
# and checks every answer against the document: no 5xx, every status, content type, header and
# body as declared, invalid data refused. A fixed seed and example budget make each run the same
# requests, bounded in time. With an NGINX URL, the document it serves must be the service's.
#
#   tests/openapi/run.sh BOOKING_URL [NGINX_URL]
#
# BOOKING_URL is the service itself (not NGINX): NGINX's per-IP limits would answer part of the
# run 429. The service's own per-user limit (429 RATE_LIMITED) is in the document.
# Environment: SCHEMATHESIS_MAX_EXAMPLES (default 50 per operation), SCHEMATHESIS_SEED (default
# 20251206), SEATMAP_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/seatmap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
booking=${1:?usage: tests/openapi/run.sh BOOKING_URL [NGINX_URL]}
nginx=${2:-}
version=4.32.5
cache=${SEATMAP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/seatmap}
venv="$cache/schemathesis-$version"
fail() { printf 'openapi: FAILED: %s\n' "$*" >&2; exit 1; }

if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "openapi: installing schemathesis $version in $venv (pip)"
  mkdir -p "$cache"
  python3 -m venv "$venv" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" ||
    { rm -rf "$venv"; fail "pip install schemathesis==$version failed"; }
fi

work=$(mktemp -d /tmp/seatmap-openapi.XXXXXX)
trap 'rm -rf "$work"' EXIT
curl -sf "$booking/api/openapi.json" -o "$work/openapi.json" || fail "GET $booking/api/openapi.json"
operations=$(python3 - "$work/openapi.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["openapi"].startswith("3.1."), f"not OpenAPI 3.1: {doc['openapi']}"
methods = {"get", "put", "post", "delete", "patch", "head", "options"}
print(sum(1 for item in doc["paths"].values() for m in item if m in methods))
PY
) || fail "the document is not OpenAPI 3.1 (above)"
echo "openapi: the service documents $operations operations in OpenAPI 3.1"
if [ -n "$nginx" ]; then
  curl -sf "$nginx/api/openapi.json" -o "$work/via-nginx.json" || fail "GET $nginx/api/openapi.json"
  cmp -s "$work/openapi.json" "$work/via-nginx.json" || fail "NGINX serves another document than the service"
  echo "openapi: NGINX serves the same document at $nginx/api/openapi.json"
fi

# The checks: no 5xx, every status / content type / header / body the document declares, and data
# the document calls invalid refused with a 4xx. Left out: positive_data_acceptance (a body valid
# by the schema is refused when its token is not one this system issued), unsupported_method (a
# wrong method answers 405 in the API's error format, without an Allow header), and the checks
# of auth and resource models this API does not have.
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance
checks+=,response_schema_conformance,negative_data_rejection
token=$(curl -sf -X POST "$booking/api/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') ||
  fail "POST $booking/api/session"
set +e
# In the work directory: schemathesis keeps its example database in the current one.
cd "$work"
SEATMAP_OPENAPI_TOKEN=$token SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$here" \
  timeout 600 "$venv/bin/schemathesis" --no-color --config-file "$here/schemathesis.toml" run "$work/openapi.json" \
  --checks "$checks" --url "$booking" --seed "${SCHEMATHESIS_SEED:-20251206}" --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
  --phases examples,coverage,fuzzing --workers 1 --request-timeout 15 \
  >"$work/run.txt" 2>&1
status=$?
set -e
cat "$work/run.txt"
((status == 0)) || fail "schemathesis found answers that do not match the document (above)"
tested=$(sed -n 's/^ *Tested: \([0-9]*\)$/\1/p' "$work/run.txt")
[ "$tested" = "$operations" ] || fail "schemathesis tested ${tested:-no} operations of $operations"
echo "openapi: every operation ($operations) answered as documented"
