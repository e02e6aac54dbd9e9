#!/usr/bin/env bash
# Makes an arm64 busybox base image as a docker-archive (the `docker save` layout) and prints its
# path; with --load HOST it also `docker load`s it into that engine (unix://... or a socket path).
#   scripts/arm64-base.sh                 build (cached) and print the archive path
#   scripts/arm64-base.sh --load HOST     build (cached) and load it as busybox:latest
#   scripts/arm64-base.sh --binary        print the path of the (cached) aarch64 busybox binary
# The busybox binary comes from Debian's busybox-static:arm64 package (downloaded, never
# installed). Docker 20.10's `docker import --platform linux/arm64` still records amd64, hence
# the hand-written archive whose config says "architecture": "arm64", "variant": "v8".
# Cached under $DEPOT_ENGINES_ROOT/arm64-base/ (default /tmp/depot-engines/arm64-base/).
set -euo pipefail
ROOT=${DEPOT_ENGINES_ROOT:-/tmp/depot-engines}
DIR="$ROOT/arm64-base"
ARCHIVE="$DIR/busybox-arm64.tar"
BINARY="$DIR/busybox"
mkdir -p "$DIR"

fetch_deb() { # prints the path of the busybox-static arm64 .deb, downloading it if needed
  local deb; deb=$(ls "$DIR"/busybox-static_*_arm64.deb 2>/dev/null | head -1 || true)
  if [ -n "$deb" ]; then echo "$deb"; return 0; fi
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -qq >&2
  fi
  # apt's sandbox user cannot write into a root-owned temp dir; download in a world-writable one.
  local t; t=$(mktemp -d); chmod 777 "$t"
  if ! (cd "$t" && apt-get download -qq busybox-static:arm64 >&2); then
    apt-get update -qq >&2
    (cd "$t" && apt-get download -qq busybox-static:arm64 >&2)
  fi
  mv "$t"/busybox-static_*_arm64.deb "$DIR/"
  rm -rf "$t"
  ls "$DIR"/busybox-static_*_arm64.deb | head -1
}

make_archive() {
  local deb; deb=$(fetch_deb)
  local t; t=$(mktemp -d)
  dpkg-deb -x "$deb" "$t/deb"
  local bb="$t/deb/bin/busybox"
  [ -x "$bb" ] || { echo "no bin/busybox in $deb" >&2; exit 1; }
  cp "$bb" "$BINARY.tmp" && mv "$BINARY.tmp" "$BINARY"
  # The applet list: ask the arm64 binary itself through qemu (no binfmt needed for that).
  local list
  if command -v qemu-aarch64-static >/dev/null 2>&1; then list=$(qemu-aarch64-static "$bb" --list)
  else list=$(busybox --list); fi # same Debian version on the host: the same applets
  printf '%s\n' "$list" >"$t/applets"
  python3 - "$bb" "$t/applets" "$ARCHIVE.tmp" <<'PY'
import hashlib, io, json, sys, tarfile
bb_path, applets_path, out = sys.argv[1:4]
MTIME = 1700000000  # fixed, so the image id is the same on every machine
def info(name, **kw):
    ti = tarfile.TarInfo(name); ti.mtime = MTIME; ti.uid = ti.gid = 0; ti.uname = ti.gname = 'root'
    for k, v in kw.items(): setattr(ti, k, v)
    return ti
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode='w', format=tarfile.PAX_FORMAT) as t:
    for d in ('bin', 'etc', 'root', 'tmp'):
        t.addfile(info(d, type=tarfile.DIRTYPE, mode=0o1777 if d == 'tmp' else 0o755))
    data = open(bb_path, 'rb').read()
    t.addfile(info('bin/busybox', size=len(data), mode=0o755), io.BytesIO(data))
    for a in sorted(set(open(applets_path).read().split())):
        if a != 'busybox':
            t.addfile(info('bin/' + a, type=tarfile.SYMTYPE, linkname='busybox', mode=0o777))
    for name, text in (('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'), ('etc/group', 'root:x:0:\n')):
        b = text.encode(); t.addfile(info(name, size=len(b), mode=0o644), io.BytesIO(b))
layer = layer.getvalue()
diff_id = 'sha256:' + hashlib.sha256(layer).hexdigest()
created = '2023-11-14T22:13:20Z'
config = {
    'architecture': 'arm64', 'os': 'linux', 'variant': 'v8', 'created': created,
    'config': {'Cmd': ['/bin/sh'],
               'Env': ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']},
    'rootfs': {'type': 'layers', 'diff_ids': [diff_id]},
    'history': [{'created': created, 'created_by': 'depot scripts/arm64-base.sh (busybox-static:arm64)'}],
}
cfg = json.dumps(config, separators=(',', ':')).encode()
cfg_name = hashlib.sha256(cfg).hexdigest() + '.json'
layer_dir = diff_id[len('sha256:'):]
manifest = [{'Config': cfg_name, 'RepoTags': ['busybox:latest'], 'Layers': [layer_dir + '/layer.tar']}]
with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
    def add(name, b): t.addfile(info(name, size=len(b), mode=0o644), io.BytesIO(b))
    t.addfile(info(layer_dir, type=tarfile.DIRTYPE, mode=0o755))
    add(layer_dir + '/VERSION', b'1.0')
    add(layer_dir + '/layer.tar', layer)
    add(cfg_name, cfg)
    add('manifest.json', json.dumps(manifest).encode())
PY
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  rm -rf "$t"
}

[ -s "$ARCHIVE" ] && [ -x "$BINARY" ] || make_archive
if [ "${1:-}" = --binary ]; then
  echo "$BINARY"
elif [ "${1:-}" = --load ]; then
  host=${2:?usage: $0 --load unix:///path/to/docker.sock}
  case "$host" in unix://*|tcp://*) ;; *) host="unix://$host" ;; esac
  DOCKER_HOST="$host" /usr/bin/docker load -q -i "$ARCHIVE" >/dev/null
else
  echo "$ARCHIVE"
fi
