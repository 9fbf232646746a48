# syntax=docker/dockerfile:1
# gosymd: multi-stage build. The runtime image has Node, the compiled JS, production
# dependencies and the .proto files; it runs as the unprivileged `node` user with its data
# (the local store of binaries) under /data.
#
#   docker build -t gosymd .
#   docker run --rm -p 50051:50051 -v gosymd-data:/data gosymd
#   docker run --rm -p 50051:50051 -e DEBUGINFOD_URLS=https://debuginfod.example gosymd serve --cache-bytes 2GiB

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts are needed (the buf/esbuild binaries come from optional platform packages).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    GOSYMD_DATA_DIR=/data
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY proto ./proto
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 50051
# grpc.health.v1.Health/Check over the Connect protocol (plain HTTP/JSON), no extra tools needed.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:50051/grpc.health.v1.Health/Check',{method:'POST',headers:{'content-type':'application/json'},body:'{}'}).then(r=>r.json()).then(j=>process.exit(j.status==='SERVING'?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve", "--port", "50051", "--host", "0.0.0.0"]
