# Production image for the accounts service.
#
#   docker build -t accounts .
#   docker run --rm -p 8000:8000 -e SECRET_KEY="$(openssl rand -hex 32)" \
#     -v accounts-data:/app/data accounts
#
# Without further settings it serves on 0.0.0.0:8000 with SQLite in the
# /app/data volume and sessions in the database; set DATABASE_URL=postgres://...
# and REDIS_URL=redis://... for PostgreSQL and Redis (docker-compose.yml does).
# Migrations are embedded in the binary and applied when `serve` starts
# (`accounts migrate` applies them and exits). No secret is baked in:
# SECRET_KEY must come from the environment at run time, and the service
# refuses to start off loopback without it.
#
# Give the container as long to stop as SHUTDOWN_TIMEOUT_SECS (default 30):
# `docker stop -t 35`, or Compose's stop_grace_period; Docker's default of 10 s
# would kill requests that are still being served.

############################################################################
# Build stage: the toolchain image.
############################################################################
FROM rust:1-bookworm AS build

# Nothing to install: SQLite, libpq and OpenSSL are compiled from source and
# linked in (libsqlite3-sys "bundled", pq-sys "bundled", openssl-sys
# "vendored"), with the C compiler, make and perl this image has.
WORKDIR /build

# 1. Dependencies only, in their own layer: it is rebuilt when Cargo.toml or
#    Cargo.lock change, not when the service's source does. Empty stand-ins for
#    src/main.rs and src/lib.rs let cargo build every dependency.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src

# 2. The service. Read at compile time: migrations/ (diesel_migrations::
#    embed_migrations!), static/ and templates/ (include_str!: Swagger UI's
#    initializer and the mail templates); .ci/deploy-check checks that every
#    directory src/ embeds is copied here (openapi/openapi.json is a committed
#    copy, not an input). The copied files
#    keep their mtimes from the build context, which can be older than the
#    stand-ins' build, so they are touched for cargo to rebuild the crate.
COPY build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY static ./static
COPY templates ./templates
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && cp target/release/accounts /usr/local/bin/accounts

############################################################################
# Runtime stage: Debian slim with only what the binary loads.
############################################################################
FROM debian:bookworm-slim AS runtime

# The binary needs only glibc and libgcc_s (libpq and OpenSSL are linked in);
# ca-certificates is the system trust store, for TLS to a managed database
# (`sslmode=verify-full&sslrootcert=system`, found through SSL_CERT_DIR below).
# Versions are left to Debian bookworm's archive (it ships one per package and
# replaces it with security updates, so a pinned version would stop existing).
# The user is unprivileged with a fixed uid/gid (10001), so volume ownership and
# Kubernetes' runAsNonRoot work; /app/data is created and owned by it before
# VOLUME below, so a new named volume starts with that ownership.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 accounts \
 && useradd --system --uid 10001 --gid accounts --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin accounts \
 && mkdir -p /app/data/media \
 && chown -R accounts:accounts /app/data

COPY --from=build /usr/local/bin/accounts /usr/local/bin/accounts

WORKDIR /app

# Defaults for a container; every other setting keeps the service's own
# default (see .env.example). sqlite:///app/... is the absolute path /app/...
# SSL_CERT_DIR points the linked-in OpenSSL at Debian's trust store.
ENV BIND_ADDRESS=0.0.0.0:8000 \
    MEDIA_ROOT=/app/data/media \
    LOG_FORMAT=json \
    DATABASE_URL=sqlite:///app/data/accounts.sqlite3 \
    SSL_CERT_DIR=/etc/ssl/certs

# Uploaded pictures (and the SQLite database when DATABASE_URL is left as is).
# A named volume starts out owned by uid 10001; a bind-mounted host directory
# must be made writable for that uid (chown 10001:10001 DIR).
VOLUME ["/app/data"]

USER 10001:10001

EXPOSE 8000

# actix-web stops accepting on SIGTERM and finishes in-flight requests (for up
# to SHUTDOWN_TIMEOUT_SECS) before exiting.
STOPSIGNAL SIGTERM

# Liveness through GET /healthz, which touches no dependency. (GET /readyz also
# checks the database and the session store: it is for readiness probes and
# load balancers, as their outage should not mark this container unhealthy.)
# The slim image has no curl or wget and the binary no health-check
# subcommand, so bash (always in Debian) speaks HTTP/1.0 over its /dev/tcp: it
# connects to the port of BIND_ADDRESS on loopback, sends the request, reads
# the status line, and succeeds only on 200. A refused connection or a timeout
# (read -t) fails the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>\"/dev/tcp/127.0.0.1/${BIND_ADDRESS##*:}\" && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r -t 4 status <&3 && [[ $status == *' 200 '* ]]"]

ENTRYPOINT ["/usr/local/bin/accounts"]
CMD ["serve"]
