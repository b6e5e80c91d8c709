# syntax=docker/dockerfile:1
#
# pop3-monitor container image.
#
#   docker build -t pop3-monitor .
#   docker run --rm -p 9469:9469 pop3-monitor demo        # the whole loop, no outside server
#   docker run -d -p 9469:9469 \
#     -v "$PWD/config.yaml:/etc/pop3-monitor/config.yaml:ro" \
#     -v pop3-monitor-data:/var/lib/pop3-monitor \
#     pop3-monitor                                         # the daemon: `run`
#
# Config: /etc/pop3-monitor/config.yaml (POP3_MONITOR_CONFIG). The one built in is
# config/example.yaml with state_dir set to the volume; it names example hosts and needs
# SUPPORT_PASSWORD, LEGACY_PASSWORD and SMTP_PASSWORD, so mount your own over it.
# State (alert outbox, alert state): the volume /var/lib/pop3-monitor; keep it across
# restarts so undelivered alert mail survives. Set state_dir: /var/lib/pop3-monitor.
#
# Secrets: never in the image or in environment variables you can avoid. Mount them as
# files under /run/secrets (docker secrets, compose `secrets:`, Kubernetes Secret volumes)
# and point the config at them:
#   password_file: /run/secrets/support_password          (a mailbox)
#   alerting.smtp.password_file: /run/secrets/smtp_password
#   server.basic_auth.password_file / server.bearer_token_file: /run/secrets/...
# Files are read whole, less trailing line breaks. ${VAR} in the config still works for
# values that are not secret.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: type-check, then bundle the CLI into dist/ (scripts/build.mjs) -------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and dist/ only ----------------------------------
FROM ${NODE_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="pop3-monitor" \
      org.opencontainers.image.description="Watch mailboxes over POP3: Prometheus metrics and SMTP alerts." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/${NODE_IMAGE}"

ENV NODE_ENV=production \
    POP3_MONITOR_CONFIG=/etc/pop3-monitor/config.yaml

WORKDIR /app
# --ignore-scripts: no install script of a dependency runs in the image (none needs one).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY config/example.yaml ./config/example.yaml
# `demo` reads its config from here.
COPY config/demo.yaml ./config/demo.yaml

# The built-in config: the example with its state in the volume. The grep fails the
# build if example.yaml no longer has a top-level state_dir line to rewrite.
RUN mkdir -p /etc/pop3-monitor /var/lib/pop3-monitor \
 && sed 's|^state_dir:.*$|state_dir: /var/lib/pop3-monitor|' config/example.yaml \
      > /etc/pop3-monitor/config.yaml \
 && grep -qx 'state_dir: /var/lib/pop3-monitor' /etc/pop3-monitor/config.yaml \
 && chown node:node /var/lib/pop3-monitor

# The image's own unprivileged user (uid 1000); nothing here needs root.
USER node
VOLUME /var/lib/pop3-monitor
EXPOSE 9469

# `healthcheck` reads the config the daemon reads ($POP3_MONITOR_CONFIG) and asks /healthz
# on its server.listen port (no curl or wget in the image; /healthz needs no credentials
# and turns unhealthy when the scheduler stops making progress). If you start the daemon
# with `run --listen HOST:PORT`, give the HEALTHCHECK the same: `healthcheck --listen ...`.
# A web config with tls_server_config (server.web_config_file) makes it ask over HTTPS;
# under RequireAndVerifyClientCert set POP3_MONITOR_HEALTHCHECK_CERT and _KEY to a client
# certificate.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/app/dist/cli.js", "healthcheck"]

# exec form: node is PID 1's only process and gets SIGTERM for a graceful shutdown.
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["run"]
