// Named points where a test can make the proxy process die on the spot (kill -9 style), to prove that
// what it leaves behind is recoverable: `PGSHARD_CONTROL_POINTS=2pc-after-prepare` (comma-separated).
// Read once at startup; unarmed points cost one Set lookup.

const armed = new Set((process.env['PGSHARD_CONTROL_POINTS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''));

export function reachControlPoint(name: string): void {
  if (armed.size > 0 && armed.has(name)) process.kill(process.pid, 'SIGKILL');
}
