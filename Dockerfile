# Bazar: one image per component, built by `make images` (docker/build-images).
#
#   targets   front    -> bazar-front     catalog -> bazar-catalog
#             order    -> bazar-order     nginx   -> bazar-nginx
#
# The Swift binaries are built on the host (no Swift image can be pulled here) by
# docker/build-images: `swift build -c release --static-swift-stdlib`, stripped, staged
# in .build/images/ (the only part of .build/ that .dockerignore lets in). The host must
# be Debian bookworm (or have an older glibc) so that they run on the bookworm base.
# Plain Dockerfile syntax: builds with the classic builder, BuildKit and docker-compose.
#
# Every image runs as the unprivileged user bazar, uid 10001, gid 10001.
#   /var/lib/bazar  state (SQLite files): mount a volume here; 0700 bazar
#   /run/bazar      sockets and pid files; 0750 bazar

ARG BASE=debian:bookworm-slim

# ---------------------------------------------------------------- tier runtime
# bookworm-slim + the responders' run-time packages, then trimmed of the package
# manager, perl, PAM... (docker/runtime-trim) and flattened into one layer.
FROM ${BASE} AS runtime-root
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends libfcgi0ldbl libsqlite3-0 spawn-fcgi libfcgi-bin; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 bazar; \
    useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/bazar --no-create-home \
        --shell /usr/sbin/nologin bazar; \
    install -d -o bazar -g bazar -m 0700 /var/lib/bazar; \
    install -d -o bazar -g bazar -m 0750 /run/bazar
COPY docker/runtime-trim /usr/local/sbin/runtime-trim
RUN BAZAR_IMAGE_BUILD=1 /usr/local/sbin/runtime-trim --purge-this-image-root && rm /usr/local/sbin/runtime-trim

FROM scratch AS runtime
COPY --from=runtime-root / /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /var/lib/bazar
USER 10001:10001
# docker stop's SIGTERM reaches the entrypoint, which passes it on to the tier; the
# binaries drain and exit 0 on it (Sources/FastCGI/Server.swift).
STOPSIGNAL SIGTERM

# Each tier image runs docker/tier-entrypoint (bazar-entrypoint): it binds the tier's
# FastCGI socket on the container's own address, port 9000 (the front also 9001, 9002 and 9003),
# through spawn-fcgi, points it at nginx's internal listener (nginx:8081) with the
# deployment's secret (/run/secrets/internal_secret), lets FastCGI in from nginx alone
# (FCGI_WEB_SERVER_ADDRS) and restarts the container when nginx moves. Its arguments are
# the tier's own flags, e.g. for a catalog replica:
#   --name catalog-1 --role primary --peer catalog-2 --db /var/lib/bazar/catalog-1.db
# The health check (docker/healthcheck) is one FastCGI request to that socket (cgi-fcgi).
COPY docker/entrypoint-lib /usr/local/lib/bazar/entrypoint-lib
COPY docker/tier-entrypoint /usr/local/bin/bazar-entrypoint
COPY docker/healthcheck /usr/local/bin/bazar-healthcheck
ENTRYPOINT ["/usr/local/bin/bazar-entrypoint"]
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["/usr/local/bin/bazar-healthcheck"]
EXPOSE 9000

# ---------------------------------------------------------------- the tiers
FROM runtime AS front
COPY .build/images/bazar-front /usr/local/bin/bazar-front
# render-conf --sizes: the front's writes threads match what nginx lets through.
COPY nginx/render-conf /usr/local/lib/bazar/render-conf
LABEL org.opencontainers.image.title="bazar-front"
ENV BAZAR_PROGRAM=bazar-front
EXPOSE 9001 9002 9003

FROM runtime AS catalog
COPY .build/images/bazar-catalog /usr/local/bin/bazar-catalog
LABEL org.opencontainers.image.title="bazar-catalog"
ENV BAZAR_PROGRAM=bazar-catalog

FROM runtime AS order
COPY .build/images/bazar-order /usr/local/bin/bazar-order
LABEL org.opencontainers.image.title="bazar-order"
ENV BAZAR_PROGRAM=bazar-order

# ---------------------------------------------------------------- nginx
# Debian's nginx-light, run unprivileged: no default site, the pid file in
# /run/nginx, temp files in /var/lib/nginx and logs in /var/log/nginx, all owned by
# bazar; the logs go to the container's stdout/stderr. docker/nginx-entrypoint
# (bazar-entrypoint) renders Bazar's configuration into /run/nginx with nginx/render-conf
# and the one template (in /usr/local/lib/bazar), runs nginx and renders again every 2 s,
# reloading nginx when the tiers moved. iproute2: `ip route get`, for its own address on
# the tiers network.
FROM ${BASE} AS nginx
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends nginx-light iproute2; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 bazar; \
    useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/bazar --no-create-home \
        --shell /usr/sbin/nologin bazar; \
    install -d -o bazar -g bazar -m 0700 /var/lib/bazar; \
    install -d -o bazar -g bazar -m 0750 /run/bazar /run/nginx; \
    rm -f /etc/nginx/sites-enabled/default; \
    sed -i -e '/^user /d' -e 's|^pid .*|pid /run/nginx/nginx.pid;|' /etc/nginx/nginx.conf; \
    ln -sf /dev/stderr /var/log/nginx/error.log; \
    ln -sf /dev/stdout /var/log/nginx/access.log; \
    nginx -t; \
    rm -f /run/nginx/nginx.pid; \
    mkdir -p /var/lib/nginx /var/log/nginx; \
    chown -R bazar:bazar /var/lib/nginx /var/log/nginx /run/nginx
COPY nginx/render-conf nginx/nginx.conf.template nginx/topology docker/entrypoint-lib /usr/local/lib/bazar/
COPY docker/nginx-entrypoint /usr/local/bin/bazar-entrypoint
COPY docker/healthcheck /usr/local/bin/bazar-healthcheck
LABEL org.opencontainers.image.title="bazar-nginx"
WORKDIR /var/lib/bazar
USER 10001:10001
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/bazar-entrypoint"]
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["/usr/local/bin/bazar-healthcheck"]
EXPOSE 8080
