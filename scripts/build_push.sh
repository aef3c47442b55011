#!/usr/bin/env bash
# Builds the llmproxy image for linux/amd64 and linux/arm64 with docker buildx and pushes it.
#
#   IMAGE=registry.example.com/team/llmproxy scripts/build_push.sh [TAG]
#
# IMAGE (required): the registry and repository to push to, e.g. docker.io/<you>/llmproxy or
# ghcr.io/<org>/llmproxy; log in first (`docker login <registry>`). TAG: the image tag; without it the
# script shows the current git tag, offers the next patch version, and asks (Enter accepts). A new tag
# can also be set as a git tag (asked for). `latest` is pushed as well unless LATEST=0.
# PLATFORMS overrides linux/amd64,linux/arm64. BUILDER names an existing buildx builder to use.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${IMAGE:-}" ]; then
  echo "build_push.sh: set IMAGE to the registry/repository to push to, e.g. IMAGE=ghcr.io/<org>/llmproxy" >&2
  exit 2
fi
platforms="${PLATFORMS:-linux/amd64,linux/arm64}"

current="$(git describe --tags --abbrev=0 2> /dev/null || true)"
if [ -n "$current" ]; then
  echo "Current git tag: $current (at $(git rev-list -n 1 "$current" | cut -c1-12); HEAD is $(git rev-parse --short=12 HEAD))"
else
  echo "No git tag yet."
fi

# The next patch version of vMAJOR.MINOR.PATCH (or of package.json's version when there is no tag).
suggest() {
  local base="${current:-v$(node -p 'require("./package.json").version' 2> /dev/null || echo 0.0.0)}"
  if [[ "$base" =~ ^(v?)([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    if [ -n "$current" ]; then
      echo "${BASH_REMATCH[1]}${BASH_REMATCH[2]}.${BASH_REMATCH[3]}.$((BASH_REMATCH[4] + 1))"
    else
      echo "v${BASH_REMATCH[2]}.${BASH_REMATCH[3]}.${BASH_REMATCH[4]}"
    fi
  else
    echo "v0.1.0"
  fi
}

TAG="${1:-}"
if [ -z "$TAG" ]; then
  offered="$(suggest)"
  if [ -t 0 ]; then
    read -r -p "Tag to build and push [$offered]: " TAG
  fi
  TAG="${TAG:-$offered}"
fi
if ! [[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "build_push.sh: '$TAG' is not a valid image tag" >&2
  exit 2
fi

if [ "$TAG" != "$current" ] && ! git rev-parse -q --verify "refs/tags/$TAG" > /dev/null && [ -t 0 ]; then
  read -r -p "Create git tag $TAG at HEAD too? [y/N] " answer
  if [[ "$answer" =~ ^[Yy] ]]; then
    git tag -a "$TAG" -m "llmproxy $TAG"
    echo "Created git tag $TAG (push it with: git push origin $TAG)"
  fi
fi

if [ -n "$(git status --porcelain 2> /dev/null)" ]; then
  echo "Note: the working tree has uncommitted changes; they go into the image." >&2
fi

also_latest=()
if [ "${LATEST:-1}" = 1 ]; then also_latest=(-t "$IMAGE:latest"); fi

builder_args=()
if [ -n "${BUILDER:-}" ]; then builder_args=(--builder "$BUILDER"); fi

echo "Building $IMAGE:$TAG for $platforms and pushing..."
docker buildx build ${builder_args[@]+"${builder_args[@]}"} \
  --platform "$platforms" --push -t "$IMAGE:$TAG" ${also_latest[@]+"${also_latest[@]}"} \
  --label "org.opencontainers.image.version=$TAG" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2> /dev/null || echo unknown)" \
  -f docker/Dockerfile \
  .
echo "Pushed $IMAGE:$TAG${also_latest[*]:+ and $IMAGE:latest}"
