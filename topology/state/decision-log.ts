// The durable record of two-phase-commit decisions of this proxy (one local file). Owns only the
// file: logCommit resolves once a decision is on disk, so the coordinator may then send COMMIT
// PREPARED; after a crash, pending() is what recovery must commit (in-doubt.ts decides what to do
// with each prepared transaction). It never talks to a shard. Format: decision-log-format.ts.
//
// Group commit: one writer at a time; calls that arrive while a write+fsync is in flight share the
// next one (a multi-shard commit costs one fsync only when it is alone). One write is one frame and
// is fsync'd before the next write, so a crash can tear only the last frame.
//
// forget() is not fsync'd: its "done" entry rides along with the next commit write (or a batch of
// its own once many pile up, and at close). Losing it in a crash only brings the decision back as
// pending; recovery then finds its gid prepared nowhere and drops it again. Nothing is decided wrongly,
// because a gid is never reused (gid.ts). Compaction rewrites the file with only the pending
// decisions: temporary file, fsync, rename, fsync of the directory.

import { open as fsOpen, mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, parse as parsePath } from 'node:path';
import {
  DecisionLogError,
  FRAME_PAYLOAD_BYTES_MAX,
  encodeFrame,
  encodeSnapshot,
  entryBytes,
  parseLog,
  type Entry,
} from './decision-log-format.js';
import { GID_BYTES_MAX } from './gid.js';

export { DecisionLogError } from './decision-log-format.js';
export { makeGid, parseGid } from './gid.js';

/** The file operations the log uses (node:fs/promises by default; tests inject failures and count fsyncs). */
export interface LogFile {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface LogFs {
  open(path: string, flags: string): Promise<LogFile>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
}

export const nodeLogFs: LogFs = { open: fsOpen, readFile: (p) => readFile(p), rename, unlink, mkdir };

export interface DecisionLogOptions {
  /** Compact once the file grows past this many bytes (default 4 MiB). */
  compactBytes?: number;
  /** forget() entries kept in memory before they get a write of their own (default 1024). */
  forgetsBufferedMax?: number;
  fs?: LogFs;
}

export interface Decision {
  gid: string;
  participants: number[];
}

export interface DecisionLogStats {
  /** fdatasync/fsync calls on the log and its temporary files. */
  syncs: number;
  /** Frames appended (each one write and one fdatasync). */
  writes: number;
  decisions: number;
  compactions: number;
  fileBytes: number;
}

export interface OpenReport {
  /** Decisions found committed and not forgotten: recovery must finish them. */
  pending: number;
  /** Bytes of a torn last write that were cut off (0 normally). */
  tornBytes: number;
}

interface Waiter {
  entry: Entry & { kind: 'commit' };
  resolve: () => void;
  reject: (err: unknown) => void;
}

const SAFE_GID = /^[\x21-\x26\x28-\x7e]+$/; // printable ASCII without the quote: gids go into SQL literals

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ENOENT';
}

async function syncDirectory(fs: LogFs, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class DecisionLog {
  private readonly pendingByGid: Map<string, number[]>;
  private readonly waiting: Waiter[] = [];
  private forgotten: Entry[] = [];
  private writerRunning = false;
  private writerScheduled = false;
  private compactWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private idleWaiters: (() => void)[] = [];
  private closing = false;
  private failure: DecisionLogError | null = null;
  private compactAtBytes: number;
  private readonly counters: DecisionLogStats;

  private constructor(
    readonly path: string,
    private file: LogFile,
    private fileBytes: number,
    pending: Map<string, number[]>,
    private readonly fs: LogFs,
    private readonly compactBytes: number,
    private readonly forgetsBufferedMax: number,
    readonly openReport: OpenReport,
  ) {
    this.pendingByGid = pending;
    this.compactAtBytes = compactBytes;
    this.counters = { syncs: 0, writes: 0, decisions: 0, compactions: 0, fileBytes };
  }

  /** Opens (or creates, with its directories) the log and reads the decisions it holds. */
  static async open(path: string, opts: DecisionLogOptions = {}): Promise<DecisionLog> {
    const fs = opts.fs ?? nodeLogFs;
    const compactBytes = opts.compactBytes ?? 4 * 1024 * 1024;
    const dir = dirname(path);
    const created = await fs.mkdir(dir, { recursive: true });
    if (created !== undefined) {
      // New directories must reach the disk too, or the file's entry can vanish with them.
      for (let d = dir; ; d = dirname(d)) {
        await syncDirectory(fs, dirname(d));
        if (d === created || d === parsePath(d).root) break;
      }
    }
    await fs.unlink(tempPathOf(path)).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path);
    } catch (err) {
      if (!isMissing(err)) throw new DecisionLogError(path, `cannot read decision log ${path}: ${String(err)}`, { cause: err });
      bytes = encodeSnapshot([]);
      await writeAtomically(fs, path, bytes, () => undefined);
    }
    const parsed = parseLog(bytes, path);
    const file = await fs.open(path, 'r+');
    const tornBytes = bytes.length - parsed.validEnd;
    if (tornBytes > 0) {
      // Cut the torn write off, or the next frame would follow garbage and look like corruption.
      await file.truncate(parsed.validEnd);
      await file.datasync();
    }
    const log = new DecisionLog(
      path,
      file,
      parsed.validEnd,
      parsed.pending,
      fs,
      compactBytes,
      opts.forgetsBufferedMax ?? 1024,
      { pending: parsed.pending.size, tornBytes },
    );
    if (parsed.validEnd > compactBytes) await log.compact();
    return log;
  }

  /**
   * Records that transaction `gid`, prepared on `participants`, commits. Resolves once the record is
   * on disk. A rejection leaves the outcome unknown (the record may or may not have reached the
   * disk): the caller must not roll the transaction back, and the log refuses further decisions.
   */
  logCommit(gid: string, participants: readonly number[]): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new DecisionLogError(this.path, `decision log ${this.path} is closed`));
    if (gid.length > GID_BYTES_MAX || !SAFE_GID.test(gid)) {
      return Promise.reject(new RangeError(`not a valid gid (1 to ${GID_BYTES_MAX} printable ASCII bytes, no quote)`));
    }
    if (participants.length === 0 || participants.length > 0xffff || !participants.every((s) => Number.isInteger(s) && s >= 0 && s <= 0xffffffff)) {
      return Promise.reject(new RangeError('participants must be 1 to 65535 shard numbers'));
    }
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ entry: { kind: 'commit', gid, participants: [...participants] }, resolve, reject });
      this.kick();
    });
  }

  /** The transaction is committed on every participant: its decision is no longer needed. */
  forget(gid: string): void {
    if (this.failure !== null || !this.pendingByGid.delete(gid)) return;
    this.forgotten.push({ kind: 'done', gid });
    if (this.forgotten.length >= this.forgetsBufferedMax) this.kick();
  }

  /** Decisions on disk that were not forgotten: what recovery must commit where still prepared. */
  pending(): Decision[] {
    return [...this.pendingByGid].map(([gid, participants]) => ({ gid, participants: [...participants] }));
  }

  /** Whether a commit decision for gid is on disk and not forgotten. */
  isLogged(gid: string): boolean {
    return this.pendingByGid.has(gid);
  }

  stats(): DecisionLogStats {
    return { ...this.counters, fileBytes: this.fileBytes };
  }

  /** Rewrites the file with only the pending decisions (also done automatically past compactBytes). */
  compact(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.compactWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  /** Writes what forget() buffered, waits for the writer, closes the file. Later calls are refused. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.failure === null && this.forgotten.length > 0) this.kick();
    await this.idle();
    await this.file.close();
  }

  private idle(): Promise<void> {
    if (!this.writerRunning && !this.writerScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts the writer after the current microtasks, so that calls made together share a write. */
  private kick(): void {
    if (this.writerRunning || this.writerScheduled) return;
    this.writerScheduled = true;
    queueMicrotask(() => {
      this.writerScheduled = false;
      void this.runWriter();
    });
  }

  private hasWork(): boolean {
    if (this.failure !== null) return false;
    return (
      this.waiting.length > 0 ||
      this.compactWaiters.length > 0 ||
      this.forgotten.length >= this.forgetsBufferedMax ||
      (this.closing && this.forgotten.length > 0)
    );
  }

  private async runWriter(): Promise<void> {
    this.writerRunning = true;
    try {
      while (this.hasWork()) {
        if (this.compactWaiters.length > 0) await this.compactNow();
        else await this.appendFrame();
        if (this.fileBytes > this.compactAtBytes && this.failure === null) await this.compactNow();
      }
    } finally {
      this.writerRunning = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async appendFrame(): Promise<void> {
    const entries: Entry[] = [];
    let bytes = 0;
    let taken = 0;
    for (const w of this.waiting) {
      const size = entryBytes(w.entry);
      if (taken > 0 && bytes + size > FRAME_PAYLOAD_BYTES_MAX) break;
      entries.push(w.entry);
      bytes += size;
      taken++;
    }
    const batch = this.waiting.splice(0, taken);
    let forgets = 0;
    for (const e of this.forgotten) {
      const size = entryBytes(e);
      if (bytes + size > FRAME_PAYLOAD_BYTES_MAX) break;
      entries.push(e);
      bytes += size;
      forgets++;
    }
    const frame = encodeFrame(entries);
    try {
      await writeFully(this.file, frame, this.fileBytes);
      await this.file.datasync();
      this.counters.syncs++;
    } catch (err) {
      this.fail(err, batch);
      return;
    }
    this.forgotten.splice(0, forgets);
    this.fileBytes += frame.length;
    this.counters.writes++;
    this.counters.decisions += batch.length;
    for (const w of batch) {
      this.pendingByGid.set(w.entry.gid, [...w.entry.participants]);
      w.resolve();
    }
  }

  private async compactNow(): Promise<void> {
    const waiters = this.compactWaiters.splice(0);
    const snapshot = encodeSnapshot(this.pendingByGid);
    const forgottenBefore = this.forgotten.length;
    let renamed = false;
    try {
      await writeAtomically(this.fs, this.path, snapshot, () => {
        renamed = true;
      });
      this.counters.syncs += 2;
      const old = this.file;
      this.file = await this.fs.open(this.path, 'r+');
      await old.close().catch(() => undefined);
    } catch (err) {
      if (renamed) {
        this.fail(err, []);
      } else {
        // The old file is intact and still in use; try again after it has grown as much again.
        this.compactAtBytes = this.fileBytes + this.compactBytes;
      }
      for (const w of waiters) w.reject(err);
      return;
    }
    // What was forgotten before the snapshot is absent from the new file.
    this.forgotten.splice(0, forgottenBefore);
    this.fileBytes = snapshot.length;
    this.compactAtBytes = Math.max(this.compactBytes, 2 * snapshot.length);
    this.counters.compactions++;
    for (const w of waiters) w.resolve();
  }

  /** A failed write or fsync leaves the file's state unknown (fsync errors are not retryable). */
  private fail(err: unknown, batch: Waiter[]): void {
    this.failure = new DecisionLogError(
      this.path,
      `decision log ${this.path} failed: ${err instanceof Error ? err.message : String(err)}; ` +
        'no further two-phase commits until restart (recovery resolves the prepared transactions)',
      { cause: err },
    );
    for (const w of [...batch, ...this.waiting.splice(0)]) w.reject(this.failure);
    for (const w of this.compactWaiters.splice(0)) w.reject(this.failure);
  }
}

function tempPathOf(path: string): string {
  return join(dirname(path), `${parsePath(path).base}.compact`);
}

async function writeFully(file: LogFile, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await file.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}

/**
 * Replaces `path` with `bytes`: temporary file, fsync, rename, fsync of the directory. A crash leaves
 * either the old file or the new one. `onRenamed` runs right after the rename.
 */
async function writeAtomically(fs: LogFs, path: string, bytes: Buffer, onRenamed: () => void): Promise<void> {
  const temp = tempPathOf(path);
  const file = await fs.open(temp, 'w');
  try {
    await writeFully(file, bytes, 0);
    await file.sync();
  } catch (err) {
    await file.close().catch(() => undefined);
    await fs.unlink(temp).catch(() => undefined);
    throw err;
  }
  await file.close();
  await fs.rename(temp, path);
  onRenamed();
  await syncDirectory(fs, dirname(path));
}
