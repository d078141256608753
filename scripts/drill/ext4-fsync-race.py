#!/usr/bin/env python3
"""What the disk drill's "read-only while running" phase meets below the gateway, shown with bare
writes: a loop-mounted ext4 (errors=remount-ro) is made to fail (trigger_fs_error) while one
thread appends 4 KiB blocks, each followed by fdatasync. After e2fsck, a block whose fdatasync
returned success can be missing (and one whose fdatasync failed can be there). Needs root.

    python3 scripts/drill/ext4-fsync-race.py [--trials 25] [--dir /tmp]

Prints one line per trial and the trials in which a block reported durable was lost.
"""
import argparse
import os
import random
import subprocess
import tempfile
import threading
import time


def trial(base: str, delay: float) -> tuple[int, list[int], str]:
    img, mnt = os.path.join(base, "img"), os.path.join(base, "mnt")
    os.makedirs(mnt, exist_ok=True)
    subprocess.run(["truncate", "-s", "64M", img], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
    subprocess.run(["mount", "-o", "loop,errors=remount-ro", img, mnt], check=True)
    try:
        trigger = f"/sys/fs/ext4/loop{os.stat(mnt).st_dev & 0xFF}/trigger_fs_error"
        fd = os.open(os.path.join(mnt, "w"), os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        os.fsync(fd)
        dfd = os.open(mnt, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)

        def fail() -> None:
            time.sleep(delay)
            with open(trigger, "w") as f:
                f.write("1")

        t = threading.Thread(target=fail)
        t.start()
        durable: list[int] = []
        error = ""
        for i in range(100_000):
            try:
                os.pwrite(fd, (b"%08d" % i) * 512, i * 4096)
                os.fdatasync(fd)
                durable.append(i)
            except OSError as e:
                error = f"block {i}: {e}"
                break
        t.join()
        os.close(fd)
    finally:
        subprocess.run(["umount", mnt], check=True)
    subprocess.run(["e2fsck", "-fy", img], capture_output=True)
    subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
    try:
        with open(os.path.join(mnt, "w"), "rb") as f:
            data = f.read()
    finally:
        subprocess.run(["umount", mnt], check=True)
    lost = [i for i in durable if data[i * 4096 : i * 4096 + 8] != b"%08d" % i]
    return len(durable), lost, error


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=25)
    p.add_argument("--dir", default=tempfile.gettempdir())
    a = p.parse_args()
    hits = 0
    with tempfile.TemporaryDirectory(dir=a.dir, prefix="ext4-fsync-race-") as base:
        for k in range(a.trials):
            delay = random.uniform(0.02, 0.2)
            n, lost, error = trial(base, delay)
            hits += bool(lost)
            print(f"trial {k + 1}: {n} fdatasync reported success; lost after e2fsck: {lost}; then {error}")
    print(f"{hits} of {a.trials} trials lost a block whose fdatasync had succeeded")


if __name__ == "__main__":
    main()
