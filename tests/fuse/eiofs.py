#!/usr/bin/env python3
"""eiofs: a read-only FUSE filesystem for the tests, speaking the kernel's protocol on /dev/fuse
directly (no libfuse, no pip package), whose files fail with EIO at chosen offsets.

    eiofs.py MOUNTPOINT NAME:SIZE[:BAD[,BAD...][:HOLD[,HOLD...]]] ...

mounts one flat directory at MOUNTPOINT (root only: mount(2) with fd=N) holding a file NAME per
argument, of SIZE bytes (suffixes K, M, G) that read as the line "0123456789abcdef\\n" repeated, except
that a READ request whose range covers any byte offset BAD fails with EIO. stat(2) reports the real
size, as a network filesystem would. A READ request covering an offset HOLD is answered only once the
file named by the environment variable EIOFS_GATE exists (the whole filesystem waits meanwhile): a test
can look at its reader while that reader is inside the read. Files are opened with FOPEN_KEEP_CACHE, so
their pages stay in the page cache from one open to the next, as with sshfs -o kernel_cache or JuiceFS.
Prints "ready" on stdout once mounted, then serves until the filesystem is unmounted (umount
MOUNTPOINT) or the process is killed.
"""

import ctypes
import errno
import os
import stat
import struct
import sys
import time

# Opcodes (include/uapi/linux/fuse.h).
LOOKUP, FORGET, GETATTR, OPEN, READ, STATFS, RELEASE = 1, 2, 3, 14, 15, 17, 18
FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR, DESTROY = 25, 26, 27, 28, 29, 38
INTERRUPT, BATCH_FORGET = 36, 42
NO_REPLY = {FORGET, BATCH_FORGET, INTERRUPT}

IN_HEADER = struct.Struct("=IIQQIIIHH")  # len opcode unique nodeid uid gid pid extlen pad
OUT_HEADER = struct.Struct("=IiQ")  # len error unique
ATTR = struct.Struct("=QQQQQQIIIIIIIIII")  # 88 bytes
LINE = b"0123456789abcdef\n"
ROOT = 1
VALID = 3600  # seconds the kernel may keep names and attributes


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


def offsets(parts, index):
    if len(parts) > index and parts[index]:
        return [parse_size(o) for o in parts[index].split(",")]
    return []


class File:
    def __init__(self, spec):
        parts = spec.split(":")
        self.name = parts[0].encode()
        self.size = parse_size(parts[1])
        self.bad = offsets(parts, 2)
        self.hold = offsets(parts, 3)

    def read(self, offset, size):
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        if any(offset <= h < end for h in self.hold):
            gate = os.environ.get("EIOFS_GATE", "")
            while not os.path.exists(gate):
                time.sleep(0.005)
        if any(offset <= b < end for b in self.bad):
            return None
        first = offset // len(LINE)
        count = (end - 1) // len(LINE) - first + 1
        data = LINE * count
        skip = offset - first * len(LINE)
        return data[skip : skip + end - offset]


def attr(ino, files):
    if ino == ROOT:
        mode, size, nlink = stat.S_IFDIR | 0o755, 0, 2
    else:
        mode, size, nlink = stat.S_IFREG | 0o644, files[ino].size, 1
    blocks = (size + 511) // 512
    return ATTR.pack(ino, size, blocks, 0, 0, 0, 0, 0, 0, mode, nlink, 0, 0, 0, 4096, 0)


def dirents(files, offset, size):
    entries = [(ROOT, b".", 4), (ROOT, b"..", 4)]
    entries += [(ino, f.name, 8) for ino, f in sorted(files.items())]
    out = b""
    for index in range(offset, len(entries)):
        ino, name, kind = entries[index]
        entry = struct.pack("=QQII", ino, index + 1, len(name), kind) + name
        entry += b"\0" * (-len(entry) % 8)
        if len(out) + len(entry) > size:
            break
        out += entry
    return out


def handle(opcode, nodeid, body, files):
    """Returns (error, payload) for one request."""
    if opcode == INIT:
        major, minor, readahead, _flags = struct.unpack_from("=IIII", body)
        if major != 7:
            return -errno.EPROTO, b""
        out = struct.pack("=IIIIHHIIHHII", 7, 31, readahead, 0, 16, 12, 128 << 10, 1, 0, 0, 0, 0)
        return 0, out + b"\0" * 24
    if opcode == LOOKUP:
        name = body.split(b"\0", 1)[0]
        for ino, f in files.items():
            if nodeid == ROOT and f.name == name:
                entry = struct.pack("=QQQQII", ino, 0, VALID, VALID, 0, 0)
                return 0, entry + attr(ino, files)
        return -errno.ENOENT, b""
    if opcode == GETATTR:
        if nodeid != ROOT and nodeid not in files:
            return -errno.ENOENT, b""
        return 0, struct.pack("=QII", VALID, 0, 0) + attr(nodeid, files)
    if opcode in (OPEN, OPENDIR):
        (flags,) = struct.unpack_from("=I", body)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            return -errno.EROFS, b""
        keep_cache = 1 << 1  # FOPEN_KEEP_CACHE
        return 0, struct.pack("=QII", nodeid, keep_cache, 0)
    if opcode == READ:
        _fh, offset, size = struct.unpack_from("=QQI", body)
        data = files[nodeid].read(offset, size)
        return (-errno.EIO, b"") if data is None else (0, data)
    if opcode == READDIR:
        _fh, offset, size = struct.unpack_from("=QQI", body)
        return 0, dirents(files, offset, size)
    if opcode in (RELEASE, RELEASEDIR, FLUSH):
        return 0, b""
    if opcode == STATFS:
        return 0, struct.pack("=QQQQQIIII", 1 << 20, 0, 0, len(files) + 1, 0, 4096, 255, 4096, 0) + b"\0" * 24
    return -errno.ENOSYS, b""


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mountpoint = sys.argv[1]
    files = {ino: File(spec) for ino, spec in enumerate(sys.argv[2:], start=2)}
    fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    libc = ctypes.CDLL(None, use_errno=True)
    options = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
    if libc.mount(b"eiofs", mountpoint.encode(), b"fuse.eiofs", 0, options) != 0:
        e = ctypes.get_errno()
        sys.exit(f"eiofs: cannot mount on {mountpoint}: {os.strerror(e)}")
    print("ready", flush=True)
    while True:
        try:
            request = os.read(fd, (1 << 20) + 4096)
        except OSError as e:
            if e.errno in (errno.EINTR, errno.EAGAIN, errno.ENOENT):
                continue  # ENOENT: the request was interrupted before we read it
            if e.errno == errno.ENODEV:
                return  # unmounted
            raise
        _len, opcode, unique, nodeid = IN_HEADER.unpack_from(request)[:4]
        if opcode in NO_REPLY:
            continue
        error, payload = handle(opcode, nodeid, request[IN_HEADER.size :], files)
        try:
            os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(payload), error, unique) + payload)
        except OSError as e:
            if e.errno != errno.ENOENT:  # the request was aborted meanwhile
                raise
        if opcode == DESTROY:
            return


if __name__ == "__main__":
    main()
