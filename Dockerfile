# One image with both binaries, booking-service and edge-server.
# docker-compose.yml runs it three times and picks the binary with `command:`:
#   docker build -t seatmap .
#   docker run --rm seatmap booking-service --help
#   docker run --rm seatmap edge-server --help
#
# Tip: keep target/ and .run/ out of the build context (.dockerignore), or
# every build first uploads the local cargo target directory.

# ---------- build ----------
FROM rust:1-bookworm AS build
WORKDIR /src
# The whole workspace: every member's Cargo.toml must be present for cargo to
# read the workspace, even though only the two services are built.
COPY . .
# A target dir of our own, so a copied-in host target/ is never reused.
ENV CARGO_TARGET_DIR=/build/target
RUN cargo build --release -p booking-service -p edge-server \
 && mkdir -p /out \
 && cp /build/target/release/booking-service /build/target/release/edge-server /out/

# ---------- runtime ----------
FROM debian:bookworm-slim
# ca-certificates for TLS URLs, curl for the compose health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin seatmap
COPY --from=build /out/booking-service /out/edge-server /usr/local/bin/
# The shipped seating charts; VENUES names them relative to the working directory.
COPY --from=build /src/venues /srv/seatmap/venues
WORKDIR /srv/seatmap
USER seatmap
# Both services bind 127.0.0.1 by default; in a container they must listen on
# every interface so the other containers can reach them.
ENV HOST=0.0.0.0 \
    RUST_LOG=info
EXPOSE 8080 3000 3001
CMD ["booking-service"]
