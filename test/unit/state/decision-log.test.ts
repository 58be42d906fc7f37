// The decision log must keep every decision whose logCommit resolved, survive a crash at any byte of
// its last write, refuse (not repair) corruption before the end, share fsyncs between concurrent
// commits, and compact to exactly the pending decisions. Crashes are simulated by cutting or damaging
// copies of the file; fsyncs are counted through an injected file system.

import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { DecisionLog, DecisionLogError, makeGid, nodeLogFs, type LogFs, type LogFile } from '../../../topology/state/decision-log.js';
import { MAGIC, crc32Table, parseLog } from '../../../topology/state/decision-log-format.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgshard-2pc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Waits (bounded) until cond holds. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  if (!cond()) throw new Error('condition not reached within about a second');
}

function pendingGids(log: DecisionLog): string[] {
  return log.pending().map((d) => d.gid).sort();
}

interface CountingFs extends LogFs {
  datasyncs: number;
  syncs: number;
  /** When set, datasync waits for this promise (to hold a write in flight). */
  gate: Promise<void> | null;
  failDatasync: Error | null;
  failOpen: ((path: string) => Error | null) | null;
}

function countingFs(): CountingFs {
  const fs: CountingFs = {
    datasyncs: 0,
    syncs: 0,
    gate: null,
    failDatasync: null,
    failOpen: null,
    async open(path, flags) {
      const err = fs.failOpen?.(path) ?? null;
      if (err !== null) throw err;
      const inner = await nodeLogFs.open(path, flags);
      const file: LogFile = {
        write: (b, o, l, p) => inner.write(b, o, l, p),
        async datasync() {
          fs.datasyncs++;
          if (fs.gate !== null) await fs.gate;
          if (fs.failDatasync !== null) throw fs.failDatasync;
          await inner.datasync();
        },
        async sync() {
          fs.syncs++;
          await inner.sync();
        },
        truncate: (n) => inner.truncate(n),
        close: () => inner.close(),
      };
      return file;
    },
    readFile: (p) => nodeLogFs.readFile(p),
    rename: (a, b) => nodeLogFs.rename(a, b),
    unlink: (p) => nodeLogFs.unlink(p),
    mkdir: (p, o) => nodeLogFs.mkdir(p, o),
  };
  return fs;
}

void t.test('open creates the directories; decisions survive a reopen; forget removes them', async (t) => {
  const path = join(tempDir(t), 'deep', 'state', 'pgshard-2pc.log');
  const log = await DecisionLog.open(path);
  t.strictSame(log.openReport, { pending: 0, tornBytes: 0 });
  const a = makeGid('p1');
  const b = makeGid('p1');
  await log.logCommit(a, [0, 2]);
  await log.logCommit(b, [1, 2]);
  t.ok(log.isLogged(a));
  log.forget(a);
  log.forget('pgshard_p1_999_0000000000000000'); // unknown: nothing to do
  t.strictSame(log.pending(), [{ gid: b, participants: [1, 2] }]);
  await log.close();
  await t.rejects(log.logCommit(makeGid('p1'), [0]), DecisionLogError, 'closed');

  const again = await DecisionLog.open(path);
  t.strictSame(again.pending(), [{ gid: b, participants: [1, 2] }], 'close wrote the buffered forget');
  t.strictSame(again.openReport, { pending: 1, tornBytes: 0 });
  await again.close();
});

void t.test('a forget lost in a crash only brings its decision back; the next commit write carries it', async (t) => {
  const path = join(tempDir(t), 'log');
  const log = await DecisionLog.open(path);
  const a = makeGid('p1');
  await log.logCommit(a, [0, 1]);
  log.forget(a);
  // Crash now: the forget is only in memory.
  const crashed = await DecisionLog.open(path);
  t.strictSame(pendingGids(crashed), [a]);
  await crashed.close();
  const b = makeGid('p1');
  await log.logCommit(b, [1]);
  const later = await DecisionLog.open(path);
  t.strictSame(pendingGids(later), [b], 'the forget went out with the next commit');
  await later.close();
  await log.close();
});

void t.test('crash at every byte of the last write: earlier decisions survive, the torn one is ignored', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log');
  const log = await DecisionLog.open(path);
  const gids: string[] = [];
  const ends: number[] = [];
  for (let i = 0; i < 4; i++) {
    const gid = makeGid('p1');
    gids.push(gid);
    await log.logCommit(gid, [i, i + 1]);
    ends.push(log.stats().fileBytes);
    if (i === 1) log.forget(gids[0]!); // rides along with the third write
  }
  await log.close();
  const full = readFileSync(path);
  const lastStart = ends[2]!;
  t.equal(full.length, ends[3]);
  const failures: string[] = [];
  for (let cut = lastStart; cut < full.length; cut++) {
    const copy = join(dir, `cut-${cut}`);
    writeFileSync(copy, full.subarray(0, cut));
    const reopened = await DecisionLog.open(copy);
    const got = pendingGids(reopened);
    const want = [gids[1]!, gids[2]!].sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`cut ${cut}: ${got.join(',')}`);
    if (reopened.openReport.tornBytes !== cut - lastStart) failures.push(`cut ${cut}: tornBytes ${reopened.openReport.tornBytes}`);
    // The torn bytes are cut off, so the next write follows valid frames.
    const next = makeGid('p1');
    await reopened.logCommit(next, [9]);
    await reopened.close();
    const third = await DecisionLog.open(copy);
    if (!third.isLogged(next) || third.openReport.tornBytes !== 0) failures.push(`cut ${cut}: append after repair`);
    await third.close();
  }
  t.strictSame(failures, []);
  t.equal(full.length - lastStart, ends[3]! - ends[2]!, 'checked every byte of the last frame');

  // A last write whose blocks never reached the disk (zeros), or garbage after the end: also torn.
  for (const [name, bytes] of [
    ['zeroed last frame', Buffer.concat([full.subarray(0, lastStart), Buffer.alloc(full.length - lastStart)])],
    ['zeros after the end', Buffer.concat([full, Buffer.alloc(4096)])],
    ['damaged last frame', Buffer.concat([full.subarray(0, full.length - 1), Buffer.from([full.at(-1)! ^ 0xff])])],
  ] as const) {
    const copy = join(dir, name.replace(/ /g, '-'));
    writeFileSync(copy, bytes);
    const reopened = await DecisionLog.open(copy);
    t.ok(reopened.isLogged(gids[1]!) && reopened.isLogged(gids[2]!), `${name}: earlier decisions kept`);
    t.ok(reopened.openReport.tornBytes > 0, `${name}: reported as torn`);
    await reopened.close();
  }
});

void t.test('corruption before the last frame throws a clear error naming the file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log');
  const log = await DecisionLog.open(path);
  for (let i = 0; i < 5; i++) await log.logCommit(makeGid('p1'), [i]);
  const ends = log.stats().fileBytes;
  await log.close();
  const full = readFileSync(path);
  t.equal(full.length, ends);
  const frame = (full.length - MAGIC.length) / 5;
  // Every byte of the second frame, damaged in turn.
  const failures: number[] = [];
  for (let at = MAGIC.length + frame; at < MAGIC.length + 2 * frame; at++) {
    const copy = Buffer.from(full);
    copy[at] = copy[at]! ^ 0x5a;
    try {
      parseLog(copy, 'x.log');
      failures.push(at);
    } catch (err) {
      if (!(err instanceof DecisionLogError) || !err.message.includes('x.log is corrupt')) failures.push(at);
    }
  }
  t.strictSame(failures, [], 'each damaged byte is detected');
  const copy = join(dir, 'corrupt.log');
  const damaged = Buffer.from(full);
  damaged[MAGIC.length + frame + 10] = damaged[MAGIC.length + frame + 10]! ^ 1;
  writeFileSync(copy, damaged);
  await t.rejects(DecisionLog.open(copy), { name: 'DecisionLogError', message: new RegExp(`${copy.replace(/[.\\/]/g, '\\$&')} is corrupt at byte ${MAGIC.length + frame}`) });

  for (const [name, bytes] of [
    ['empty', Buffer.alloc(0)],
    ['foreign', Buffer.from('hello world, not a log')],
    ['short header', MAGIC.subarray(0, 5)],
  ] as const) {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    await t.rejects(DecisionLog.open(p), { name: 'DecisionLogError', message: /is not a pgshard decision log/ }, name);
  }
});

void t.test('concurrent logCommit calls share one fsync (group commit)', async (t) => {
  const fs = countingFs();
  const log = await DecisionLog.open(join(tempDir(t), 'log'), { fs });
  const base = fs.datasyncs;
  await Promise.all(Array.from({ length: 8 }, () => log.logCommit(makeGid('p1'), [0, 1])));
  t.equal(fs.datasyncs - base, 1, '8 calls made together: one fdatasync');
  t.equal(log.stats().writes, 1);

  // Calls arriving while a write is in flight go together into the next one.
  let release!: () => void;
  fs.gate = new Promise((r) => (release = r));
  const first = log.logCommit(makeGid('p1'), [0]);
  const started = fs.datasyncs;
  await until(() => fs.datasyncs === started + 1);
  const before = fs.datasyncs;
  const rest = Array.from({ length: 20 }, () => log.logCommit(makeGid('p1'), [1]));
  await new Promise((r) => setTimeout(r, 20));
  t.equal(fs.datasyncs, before, 'nothing else is written while an fsync is in flight');
  let firstDone = false;
  void first.then(() => (firstDone = true));
  fs.gate = null;
  release();
  await Promise.all([first, ...rest]);
  t.ok(firstDone);
  t.equal(fs.datasyncs - before, 1, '20 calls waiting behind it: one more fdatasync');
  t.equal(log.pending().length, 29);
  t.equal(log.stats().decisions, 29);
  await log.close();
});

void t.test('logCommit resolves only after the fsync', async (t) => {
  const fs = countingFs();
  const log = await DecisionLog.open(join(tempDir(t), 'log'), { fs });
  let release!: () => void;
  fs.gate = new Promise((r) => (release = r));
  const gid = makeGid('p1');
  let resolved = false;
  const p = log.logCommit(gid, [3]).then(() => (resolved = true));
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(resolved, 'still waiting for fdatasync');
  t.notOk(log.isLogged(gid), 'not pending before it is durable');
  fs.gate = null;
  release();
  await p;
  t.ok(log.isLogged(gid));
  await log.close();
});

void t.test('a failed fsync fails the waiting calls and every later one', async (t) => {
  const fs = countingFs();
  const path = join(tempDir(t), 'log');
  const log = await DecisionLog.open(path, { fs });
  await log.logCommit(makeGid('p1'), [0]);
  fs.failDatasync = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  const results = await Promise.allSettled([log.logCommit(makeGid('p1'), [0]), log.logCommit(makeGid('p1'), [1])]);
  t.strictSame(results.map((r) => r.status), ['rejected', 'rejected']);
  const reason = (results[0] as PromiseRejectedResult).reason as Error;
  t.ok(reason instanceof DecisionLogError);
  t.match(reason.message, /failed: EIO.*no further two-phase commits until restart/);
  fs.failDatasync = null;
  await t.rejects(log.logCommit(makeGid('p1'), [0]), DecisionLogError, 'the log stays failed');
  await t.rejects(log.compact(), DecisionLogError);
  await log.close();
});

void t.test('compaction keeps exactly the pending decisions', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log');
  const fs = countingFs();
  const log = await DecisionLog.open(path, { fs });
  const kept = new Map<string, number[]>();
  for (let i = 0; i < 50; i++) {
    const gid = makeGid('p1');
    await log.logCommit(gid, [i % 3, 3 + (i % 5)]);
    if (i % 7 === 0) kept.set(gid, [i % 3, 3 + (i % 5)]);
    else log.forget(gid);
  }
  const before = log.stats().fileBytes;
  const syncs = fs.syncs;
  await log.compact();
  t.equal(fs.syncs - syncs, 2, 'temporary file and directory fsync');
  const after = log.stats().fileBytes;
  t.ok(after < before / 4, `file shrank (${before} -> ${after} bytes)`);
  t.equal(statSync(path).size, after);
  t.notOk(existsSync(`${path}.compact`), 'no temporary file left');
  const expected = [...kept].map(([gid, participants]) => ({ gid, participants })).sort((a, b) => a.gid.localeCompare(b.gid));
  const sorted = (l: DecisionLog): unknown => l.pending().sort((a, b) => a.gid.localeCompare(b.gid));
  t.strictSame(sorted(log), expected);
  // The log goes on appending to the new file.
  const late = makeGid('p1');
  await log.logCommit(late, [7]);
  expected.push({ gid: late, participants: [7] });
  expected.sort((a, b) => a.gid.localeCompare(b.gid));
  await log.close();
  const reopened = await DecisionLog.open(path);
  t.strictSame(sorted(reopened), expected);
  await reopened.close();
});

void t.test('automatic compaction bounds the file; a leftover temporary file is removed at open', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log');
  const log = await DecisionLog.open(path, { compactBytes: 2048 });
  const open = new Set<string>();
  let maxBytes = 0;
  for (let i = 0; i < 400; i++) {
    const gid = makeGid('p1');
    await log.logCommit(gid, [1, 2, 3]);
    open.add(gid);
    if (i % 10 !== 3) {
      log.forget(gid);
      open.delete(gid);
    }
    maxBytes = Math.max(maxBytes, statSync(path).size);
  }
  t.ok(log.stats().compactions > 0, `${log.stats().compactions} compactions`);
  t.ok(maxBytes < 2048 + 4096, `file stayed near the bound (max ${maxBytes} bytes)`);
  await log.close();
  writeFileSync(`${path}.compact`, 'half-written compaction');
  const reopened = await DecisionLog.open(path);
  t.strictSame(pendingGids(reopened), [...open].sort());
  t.notOk(existsSync(`${path}.compact`));
  await reopened.close();
});

void t.test('a compaction that fails before the rename leaves the log working', async (t) => {
  const fs = countingFs();
  const path = join(tempDir(t), 'log');
  const log = await DecisionLog.open(path, { fs });
  const a = makeGid('p1');
  await log.logCommit(a, [0]);
  fs.failOpen = (p) => (p.endsWith('.compact') ? Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }) : null);
  await t.rejects(log.compact(), { message: /ENOSPC/ });
  fs.failOpen = null;
  const b = makeGid('p1');
  await log.logCommit(b, [1]);
  await log.close();
  const reopened = await DecisionLog.open(path);
  t.strictSame(pendingGids(reopened), [a, b].sort());
  await reopened.close();
});

void t.test('buffered forgets get a write of their own past forgetsBufferedMax', async (t) => {
  const fs = countingFs();
  const path = join(tempDir(t), 'log');
  const log = await DecisionLog.open(path, { fs, forgetsBufferedMax: 4 });
  const gids = Array.from({ length: 4 }, () => makeGid('p1'));
  await Promise.all(gids.map((g) => log.logCommit(g, [0])));
  const before = fs.datasyncs;
  for (const g of gids.slice(0, 3)) log.forget(g);
  await new Promise((r) => setImmediate(r));
  t.equal(fs.datasyncs, before, 'three forgets wait');
  log.forget(gids[3]!);
  await until(() => fs.datasyncs === before + 1);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(fs.datasyncs, before + 1, 'the fourth triggers a write');
  const reopened = await DecisionLog.open(path);
  t.strictSame(reopened.pending(), []);
  await reopened.close();
  await log.close();
});

void t.test('invalid gids and participants are refused', async (t) => {
  const log = await DecisionLog.open(join(tempDir(t), 'log'));
  await t.rejects(log.logCommit("pgshard_p1_1_0123456789abcdef'; DROP TABLE x; --", [0]), RangeError);
  await t.rejects(log.logCommit('', [0]), RangeError);
  await t.rejects(log.logCommit('x'.repeat(200), [0]), RangeError);
  await t.rejects(log.logCommit(makeGid('p1'), []), RangeError);
  await t.rejects(log.logCommit(makeGid('p1'), [-1]), RangeError);
  await log.logCommit('x'.repeat(199), [0]);
  t.equal(log.pending().length, 1, 'a 199-byte gid fits');
  await log.close();
});

void t.test('CRC-32: the table fallback agrees with zlib', async (t) => {
  t.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926, 'the check value of CRC-32/ISO-HDLC');
  const data = Buffer.from(Array.from({ length: 4099 }, (_, i) => (i * 7919) & 0xff));
  const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (typeof native === 'function') {
    t.equal(crc32Table(data), native(data));
    t.equal(crc32Table(data.subarray(100), crc32Table(data.subarray(0, 100))), native(data), 'continues from a value');
  } else {
    t.pass('zlib.crc32 is missing on this Node: the table is what runs');
  }
});
