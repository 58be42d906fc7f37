// The pgbench workloads of `npm run bench`, in the order they run within a round.
// All use pgbench's built-in scripts against a `pgbench -i -s <scale>` database, with -n (the
// vacuum pgbench would do before each run is done directly, and only before tpcb-like runs).

export type QueryMode = 'simple' | 'extended' | 'prepared';

export interface Workload {
  /** Stable id, e.g. 'select-simple-64' (used by --only and profile --workload). */
  id: string;
  /** Shown in the table: 'select-only -M simple'. */
  label: string;
  script: 'select-only' | 'tpcb-like';
  mode: QueryMode;
  clients: number;
  /** Whether the targets in the table apply (see report.ts). */
  check: 'vs-pgbouncer' | 'vs-direct' | null;
}

function select(mode: QueryMode, clients: number): Workload {
  return {
    id: `select-${mode}-${clients}`,
    label: `select-only -M ${mode}`,
    script: 'select-only',
    mode,
    clients,
    check: mode === 'prepared' ? 'vs-direct' : 'vs-pgbouncer',
  };
}

export const WORKLOADS: readonly Workload[] = [
  select('simple', 8),
  select('simple', 64),
  select('extended', 8),
  select('extended', 64),
  select('prepared', 8),
  select('prepared', 64),
  { id: 'tpcb-simple-8', label: 'tpcb-like -M simple', script: 'tpcb-like', mode: 'simple', clients: 8, check: null },
];

/** pgbench arguments for one timed run of `w` lasting `seconds`. */
export function pgbenchArgs(w: Workload, seconds: number): string[] {
  return [
    '-n',
    ...(w.script === 'select-only' ? ['-S'] : []),
    '-M', w.mode,
    '-c', String(w.clients),
    '-j', String(Math.min(w.clients, 2)),
    '-T', String(seconds),
  ];
}

export function findWorkload(id: string): Workload {
  const w = WORKLOADS.find((x) => x.id === id);
  if (w === undefined) throw new Error(`unknown workload ${JSON.stringify(id)}; one of: ${WORKLOADS.map((x) => x.id).join(', ')}`);
  return w;
}
