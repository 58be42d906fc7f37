// The opt-in "stop on signal" of the demo harnesses (PostgreSQL nodes, etcd): on the first of the
// given signals, stop what was started, synchronously, then re-raise the signal so the process ends
// the way it would have (other listeners, e.g. tap's signal-exit, still run).

/** A stopper for one kind of server: call it with the signals to handle; it returns the uninstaller. */
export function signalStopper(stopSync: () => void): (signals?: NodeJS.Signals[]) => () => void {
  let handler: ((sig: NodeJS.Signals) => void) | undefined;
  const handled = new Set<NodeJS.Signals>();
  const uninstall = (): void => {
    if (handler === undefined) return;
    for (const s of handled) process.removeListener(s, handler);
    handled.clear();
  };
  return (signals = ['SIGINT', 'SIGTERM', 'SIGHUP']) => {
    handler ??= (sig: NodeJS.Signals): void => {
      stopSync();
      uninstall();
      process.kill(process.pid, sig);
    };
    for (const s of signals) {
      if (handled.has(s)) continue;
      handled.add(s);
      process.on(s, handler);
    }
    return uninstall;
  };
}
