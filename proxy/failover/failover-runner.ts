// Drives one shard's failover machine: applies events (health samples, admin commands, results of
// actions), carries out the actions one after the other through FailoverActions, feeds their
// results back, and wakes the machine up at its deadlines (promotion timeout, switchover bound,
// retry time). Owns the order of execution and nothing else: decisions are the machine's.
//
// Actions run strictly in order, one at a time: a fence always finishes before the promotion that
// follows it. An action whose term is older than the machine's current term when its turn comes is
// dropped (a later decision superseded it).

import { transition } from '../../topology/failover/failover-machine.js';
import type { FailoverAction, FailoverEvent, FailoverState, TransitionResult } from '../../topology/failover/failover-types.js';
import type { Logger } from '../logger.js';

export interface ActionRunner {
  run(action: FailoverAction): Promise<FailoverEvent | null>;
}

export interface FailoverRunnerOptions {
  readonly initial: FailoverState;
  readonly actions: ActionRunner;
  readonly log: Logger;
  readonly now?: () => number;
  /** Called after every transition (persisting the term, metrics, tests). */
  readonly onTransition?: (event: FailoverEvent, result: TransitionResult) => void;
}

export class FailoverRunner {
  #state: FailoverState;
  readonly #queue: FailoverAction[] = [];
  #pumping: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #timerAt: number | null = null;
  #stopped = false;
  readonly #now: () => number;
  readonly #log: Logger;

  constructor(private readonly opts: FailoverRunnerOptions) {
    this.#state = opts.initial;
    this.#now = opts.now ?? Date.now;
    this.#log = opts.log.child({ shard: opts.initial.shard, component: 'failover' });
  }

  get state(): FailoverState {
    return this.#state;
  }

  /** Applies one event now; its actions are queued and run in the background. */
  dispatch(event: FailoverEvent): TransitionResult {
    const before = this.#state;
    const result = transition(before, event, this.#now());
    this.#state = result.state;
    if (result.state.phase !== before.phase || result.state.term !== before.term) {
      this.#log.info(
        { term: result.state.term, phase: result.state.phase, from: before.phase, reason: result.state.reason },
        `failover: ${before.phase} → ${result.state.phase}`,
      );
    }
    if (result.rejection !== null) this.#log.info({ rejection: result.rejection, event: event.kind }, 'failover: admin command refused');
    this.opts.onTransition?.(event, result);
    if (!this.#stopped) {
      this.#queue.push(...result.actions);
      if (this.#queue.length > 0) this.#pump();
      this.#armDeadline();
    }
    return result;
  }

  /**
   * Replaces the state (another proxy's decision, or this proxy taking over as leader): queued actions
   * of the old state are dropped; the one running finishes and its result is ignored when its term is
   * older than the new state's.
   */
  reset(state: FailoverState): void {
    this.#state = state;
    this.#queue.length = 0;
    this.#armDeadline();
  }

  /** Resolves once no action is queued or running. */
  async idle(): Promise<void> {
    while (this.#pumping !== null) await this.#pumping;
  }

  /** Stops running actions and timers (the one running finishes; its result is dropped). */
  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #pump(): void {
    if (this.#pumping !== null) return;
    this.#pumping = (async () => {
      try {
        for (let a = this.#queue.shift(); a !== undefined && !this.#stopped; a = this.#queue.shift()) {
          if (a.term < this.#state.term) {
            this.#log.info({ action: a.kind, term: a.term, current: this.#state.term }, 'failover: dropping an action of an older term');
            continue;
          }
          let result: FailoverEvent | null;
          try {
            result = await this.opts.actions.run(a);
          } catch (err) {
            // FailoverActions never throws; another runner might. The machine's deadlines cover it.
            this.#log.error({ action: a.kind, err: err instanceof Error ? err.message : String(err) }, 'failover: action threw');
            result = null;
          }
          if (result !== null && !this.#stopped) this.dispatch(result);
        }
      } finally {
        this.#pumping = null;
      }
    })();
  }

  /** One timer at the machine's next deadline; a tick then lets it act on it. */
  #armDeadline(): void {
    const a = this.#state.attempt;
    const at = a === null ? null : (a.deadlineMs ?? a.retryAtMs);
    if (at === this.#timerAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (at === null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = null;
      this.dispatch({ kind: 'tick' });
    }, Math.max(0, at - this.#now()) + 1);
    this.#timer.unref();
  }
}
