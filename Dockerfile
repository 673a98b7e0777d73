# syntax=docker/dockerfile:1
# The daemon image: `docker build -t marketplace-updater .`, then `docker compose up -d` (README,
# "Deploy with the image"). Two stages: the build compiles TypeScript with the dev dependencies;
# the runtime holds the production dependencies and dist/ only, runs as the image's unprivileged
# `node` user, and reports its health from /healthz.
#
# Node: 24 (Maintenance LTS until 2028-04-30), the newest line the project supports and tests
# (README, "Supported Node versions"). Node 26 is the Active LTS line since 2026-10-28; try it
# with `--build-arg NODE_VERSION=26` once the suite has passed on it.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# tsx stays a (runtime) dependency because package-lock.json is kept as it is; the image never
# loads it: bin/mpu.js runs dist/ when there is no src/ beside it.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
RUN ln -s /app/bin/mpu.js /usr/local/bin/mpu
USER node
EXPOSE 3000
# /healthz answers 200 when Redis answers, 503 at once when it does not (no auth needed).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The daemon stops gracefully on SIGTERM: intake first, then in-flight jobs finish.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["daemon"]
