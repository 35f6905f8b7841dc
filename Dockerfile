# syntax=docker/dockerfile:1
# The production image of one agent's worker (the receptionist unless AGENT says otherwise), after LiveKit's Node agent template (what
# `lk agent create` writes): multi-stage, production dependencies only, non-root user.
# The build and runtime steps are the commands test/e2e/worker-production-build.test.ts runs
# against the real stack (npm ci, npm run build; npm ci --omit=dev; node dist/... start).
#
#   docker build -t switchboard-agent .
#   docker run --rm -e LIVEKIT_URL=wss://… -e LIVEKIT_API_KEY=… -e LIVEKIT_API_SECRET=… \
#     -e OPENAI_API_KEY=… switchboard-agent

ARG NODE_VERSION=20
FROM node:${NODE_VERSION}-slim AS base
WORKDIR /app
# onnxruntime-node (Silero VAD) would download GPU providers at install time; the CPU runtime it
# ships is what runs, and Silero's model is inside its npm package: nothing is downloaded at run time.
ENV ONNXRUNTIME_NODE_INSTALL=skip

# === BUILD STAGE: TypeScript compiled to dist/ ===
FROM base AS build
RUN apt-get update -qq && apt-get install --no-install-recommends -y ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY agents ./agents
RUN npm run build

# === RUNTIME STAGE: dist/ and the production dependencies, nothing else ===
FROM base
ENV NODE_ENV=production
ARG UID=10001
RUN adduser --disabled-password --gecos "" --home /app --shell /sbin/nologin --uid "${UID}" appuser
COPY --from=build /etc/ssl/certs /etc/ssl/certs
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Which file of agents/ this image runs (one worker per agent): docker build --build-arg AGENT=appointments
ARG AGENT=receptionist
ENV AGENT=${AGENT}
# Call records (JSON lines with phone numbers and transcripts): mount a volume here to keep them.
ENV CALL_RECORDS_DIR=/app/records
RUN mkdir -p /app/records && chown appuser:appuser /app/records
USER appuser

# 8081: the agents framework's GET / (connected) and GET /worker; 8082: GET /health (ready/draining).
EXPOSE 8081 8082
# SIGTERM drains (calls in progress finish, up to AGENT_DRAIN_TIMEOUT_MS); give the container at
# least that long to stop (docker stop -t, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec node dist/agents/${AGENT}.js start"]
