// A small file of reserved disk space next to the database. When the disk fills up, the forwarder
// still has to write (record a batch, delete released readings) to drain the backlog; deleting the
// reserve gives it that room. New readings are refused until the reserve can be written again, so
// they never eat the room the drain needs.
import { closeSync, fsyncSync, openSync, rmSync, statSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";

export const RESERVE_FILE = "reserve";

export class SpaceReserve {
  private present = false;
  readonly file: string;

  constructor(
    private readonly dir: string,
    readonly bytes: number,
  ) {
    this.file = join(dir, RESERVE_FILE);
    try {
      this.present = statSync(this.file).size >= bytes;
    } catch {
      this.present = false;
    }
  }

  get inPlace(): boolean {
    return this.present;
  }

  /** Bytes free for this user on the reserve's file system (0 when unknown). */
  freeBytes(): number {
    try {
      const s = statfsSync(this.dir);
      return s.bavail * s.bsize;
    } catch {
      return 0;
    }
  }

  /** Puts the reserve in place if the disk has room for it and some to spare; true when it is in place. */
  ensure(): boolean {
    if (this.present || this.bytes === 0) return (this.present = true);
    if (this.freeBytes() < 2 * this.bytes) return false;
    let fd: number | null = null;
    try {
      fd = openSync(this.file, "w");
      const chunk = Buffer.alloc(Math.min(this.bytes, 256 * 1024));
      for (let done = 0; done < this.bytes; done += chunk.length)
        writeSync(fd, chunk, 0, Math.min(chunk.length, this.bytes - done));
      fsyncSync(fd);
      this.present = true;
    } catch {
      rmSync(this.file, { force: true });
    } finally {
      if (fd !== null) closeSync(fd);
    }
    return this.present;
  }

  /** Frees the reserved space; false when there was none to free. */
  release(): boolean {
    if (!this.present || this.bytes === 0) return false;
    rmSync(this.file, { force: true });
    this.present = false;
    return true;
  }
}
