// CPU time of a process from /proc/<pid>/stat (Linux only).
// Fields 14 and 15 (utime, stime) of /proc/<pid>/stat are the user and system time of the whole
// thread group, i.e. summed over all of its threads (live or exited), in clock ticks. Children's
// times (cutime/cstime) are not included: pgbouncer and pgshard do not fork workers.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK` (usually 100). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(n) || n <= 0) throw new Error(`getconf CLK_TCK returned ${n}`);
    ticksPerSecond = n;
  }
  return ticksPerSecond;
}

export interface CpuTimes {
  /** Seconds in user mode. */
  user: number;
  /** Seconds in the kernel (for a proxy: mostly socket reads and writes, i.e. the TCP stack). */
  system: number;
}

/** User and system CPU seconds consumed so far by process `pid` (all of its threads). */
export function processCpuTimes(pid: number): CpuTimes {
  const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces or ')': split after the last ')'.
  const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  const hz = clockTicksPerSecond();
  return { user: utime / hz, system: stime / hz };
}

/** CPU used between two readings. */
export function cpuDelta(before: CpuTimes, after: CpuTimes): CpuTimes {
  return { user: after.user - before.user, system: after.system - before.system };
}

export const totalSeconds = (t: CpuTimes): number => t.user + t.system;
