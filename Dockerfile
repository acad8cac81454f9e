# The services' image: booking-service and edge-server, built on the host by
#   cargo build --release -p booking-service -p edge-server
# and copied in from target/release (no Rust toolchain image, so it builds without Docker
# Hub once BASE_IMAGE is there). docker-compose.yml runs it for each service and picks the
# binary with `command:`:
#   docker build -t seatmap-app:local .
#   docker run --rm seatmap-app:local booking-service --help
#
# BASE_IMAGE: every image of the project starts from it (default debian:bookworm-slim; offline,
# scripts/docker-base.sh makes one with debootstrap). The binaries link against the host's
# glibc, so the base must be the host's Debian release or newer (bookworm here).
# BIN_DIR: where in the build context the two binaries are (default target/release; also
# target/debug, or target/docker-bin, where scripts/docker-start.sh copies them from elsewhere).
# .dockerignore sends only those binaries of target/ to the build.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG BIN_DIR=target/release
# ca-certificates for TLS URLs, curl for the compose health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin seatmap
COPY ${BIN_DIR}/booking-service ${BIN_DIR}/edge-server /usr/local/bin/
# The shipped seating charts; VENUES names them relative to the working directory.
COPY venues /srv/seatmap/venues
WORKDIR /srv/seatmap
USER seatmap
# Both services bind 127.0.0.1 by default; in a container they must listen on
# every interface so the other containers can reach them.
ENV HOST=0.0.0.0 \
    RUST_LOG=info
EXPOSE 8080 3000 3001
CMD ["booking-service"]
