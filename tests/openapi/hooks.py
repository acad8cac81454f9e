"""schemathesis hooks for tests/openapi/run.sh: half the generated seat and waiting-room bodies
get a token this system issued, a seat of the venue and the venue's name, so the run reaches the
seat script (holds, bookings, 409s, 429s) and not only the token check. Which half is decided by
the generated values themselves, so a seed replays the same run."""

import os

import schemathesis

TOKEN = os.environ["SEATMAP_OPENAPI_TOKEN"]
VENUE = os.environ.get("SEATMAP_OPENAPI_VENUE", "main")
SEATS = [f"{row}{col}" for row in "ABCDEFGHIJ" for col in range(1, 11)]


@schemathesis.hook
def map_body(context, body):
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        return body
    if len(body["token"]) % 2:
        return body
    body = dict(body, token=TOKEN)
    if isinstance(body.get("seat_id"), str):
        body["seat_id"] = SEATS[len(body["seat_id"]) * 7 % len(SEATS)]
    if isinstance(body.get("venue"), str):
        body["venue"] = VENUE
    return body
