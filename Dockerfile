# nce-ood: API (default command) and training worker (`node dist/workers/bullmq-worker.js`).
# Multi-stage on a slim Node 20: the build stage has a compiler toolchain and internet, so
# @tensorflow/tfjs-node (an optional dependency) installs and production runs on the native backend.

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY workers ./workers
COPY bench ./bench
# `prepare` builds dist/; tfjs-node downloads libtensorflow here.
RUN npm ci --no-audit --no-fund \
 && node -e "require('@tensorflow/tfjs-node')" \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# glibc malloc: large blocks (a model's noise matrices, batch buffers) go straight back to the
# system when freed, instead of raising the mmap threshold and staying in the heap. With the
# dynamic default, a bounded model cache that loads and evicts models still grows RSS (bench:chaos).
ENV MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=131072
ENV NODE_ENV=production \
    PORT=8080 \
    MODELS_DIR=/var/lib/nce-ood/models \
    DATASETS_DIR=/var/lib/nce-ood/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY monitoring ./monitoring
RUN mkdir -p /var/lib/nce-ood && chown 10001:10001 /var/lib/nce-ood
USER 10001:10001
EXPOSE 8080
# The API answers /healthz on PORT; the same image run as a worker (node dist/workers/bullmq-worker.js)
# answers /metrics on WORKER_METRICS_PORT instead.
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "const e=process.env,ok=(u)=>fetch(u).then((r)=>r.ok);ok('http://127.0.0.1:'+(e.PORT||8080)+'/healthz').catch(()=>ok('http://127.0.0.1:'+(e.WORKER_METRICS_PORT||9091)+'/metrics')).then((y)=>process.exit(y?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
