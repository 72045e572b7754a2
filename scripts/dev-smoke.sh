#!/usr/bin/env bash
# Starts the README's `npm run dev` on a spare port, waits until it is healthy, signs up and
# signs in over HTTP (npm run smoke), and stops the server again whatever happens.
set -euo pipefail
port="${SMOKE_PORT:-8799}"
log="$(mktemp)"
# No RP_ORIGINS override: the default http://localhost:* must accept any port (docs/troubleshooting.md).
setsid npm run dev -- --port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill -- -"$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 90); do
  if curl -fsS "http://localhost:$port/api/v1/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; echo "dev server exited"; exit 1; fi
  sleep 1
done
curl -fsS "http://localhost:$port/api/v1/health" || { cat "$log"; exit 1; }
echo
npm run smoke -- "http://localhost:$port"
