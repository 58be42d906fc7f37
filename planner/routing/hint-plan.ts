// Comment hints turned into plans: /* pgshard: shard=N */ forces shard N, /* pgshard: key=V */ the
// shard of V under the statement's sharded table (one rule, or co-located ones). Transaction control
// and pgshard settings are never redirected.
// Owns: hint → plan. Must not: find hints in text (hints.ts does).

import type { Plan } from '../plan.js';
import type { ShardingRules } from '../sharding-rules.js';
import { findHint } from './hints.js';
import { colocated, placeValue, textDatum } from './key-values.js';
import { keyTypeMissing, shardOutOfRange, unsupported } from './messages.js';
import type { Analysis } from './template.js';

export function applyHint(rules: ShardingRules, a: Analysis, text: string): Analysis {
  if (a.control) return a;
  const hint = findHint(text);
  if (hint === null) return a;
  const forced = (plan: Plan): Analysis => ({ body: { kind: 'fixed', plan }, control: false, access: a.access, rules: a.rules, hinted: true });
  switch (hint.kind) {
    case 'invalid':
      return forced(unsupported(`malformed pgshard hint: ${hint.text}`, 'write /* pgshard: shard=N */ or /* pgshard: key=VALUE */'));
    case 'shard':
      if (hint.shard >= rules.shardCount) return forced(shardOutOfRange(hint.shard, rules.shardCount, 'the pgshard hint'));
      return forced({ kind: 'single', shard: hint.shard, access: a.access });
    case 'key': {
      const first = a.rules[0];
      if (first === undefined) return forced(unsupported('pgshard key hint on a statement without a sharded table', 'use /* pgshard: shard=N */ to pick a shard'));
      if (a.rules.some((r) => r !== first && !colocated(r, first))) {
        return forced(
          unsupported(`pgshard key hint is ambiguous: the statement touches tables sharded differently (${a.rules.map((r) => r.name).join(', ')})`, 'use /* pgshard: shard=N */'),
        );
      }
      if (first.keyType === null) return forced(keyTypeMissing(first));
      const d = textDatum(hint.value, first.keyType);
      if (d.kind !== 'value') return forced(unsupported(`pgshard key hint "${hint.value}" is not a valid ${first.keyType}`, `give a ${first.keyType} value`));
      const placed = placeValue(rules, first, first.keyType, d.value);
      if (typeof placed !== 'number') {
        return forced(unsupported(`pgshard key hint "${hint.value}" has no shard under the rule of table "${first.name}"`, 'use a key inside the rule, or /* pgshard: shard=N */'));
      }
      return forced({ kind: 'single', shard: placed, access: a.access });
    }
  }
}
