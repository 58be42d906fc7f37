// Running libpq tools (psql, pgbench) from tests: always asynchronously (an in-process proxy would be
// blocked by a synchronous child), with a deadline, and with an environment that reaches exactly the
// given endpoint (none of the caller's PG* or locale variables leak in).
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface LibpqTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** The environment libpq needs to reach `target`, and nothing of the caller's PG* variables. */
export function libpqEnv(target: LibpqTarget): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG') && !k.startsWith('LC_') && k !== 'LANG') env[k] = v;
  return {
    ...env,
    LC_ALL: 'C',
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGUSER: target.user,
    PGPASSWORD: target.password,
    PGDATABASE: target.database,
    PGCONNECT_TIMEOUT: '10',
    PSQLRC: '/dev/null',
  };
}

/** Runs `cmd`, collecting its output; killed (and reported so in stderr) after timeoutMs. */
export function runCommand(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string }): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env, ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n[killed after ${timeoutMs} ms]`;
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
