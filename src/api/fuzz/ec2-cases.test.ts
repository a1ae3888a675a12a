// The EC2 case generator's shapes: long lists only in POST bodies. A GET with 21 169 query parameters (ec2 case
// 91280119 of the run with seed 1752426899) stalled the fuzzer's client for many minutes in signing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signedQueryParamsMax } from '../testing/signed-request.ts';
import { ec2Case } from './ec2-cases.ts';
import { Chooser, KnownIds } from './fuzz-values.ts';

// Ids as a long run knows them: with snapshots known, long lists draw one id per entry, as in the stall.
function knownIds(): KnownIds {
  const ids = new KnownIds();
  ids.learn(Array.from({ length: 200 }, (_, i) => `snap-${i.toString(16).padStart(17, '0')}`).join(' '));
  return ids;
}

test('no fuzzed GET carries more query parameters than signedRequest signs; POSTs still carry long lists', () => {
  const ids = knownIds();
  let getMost = 0;
  let postMost = 0;
  for (const seed of [91280119, ...Array.from({ length: 4000 }, (_, i) => i)]) {
    const one = ec2Case(new Chooser(seed), ids);
    const count = Object.keys(one.params).length;
    if (one.method === 'GET') getMost = Math.max(getMost, count);
    else postMost = Math.max(postMost, count);
  }
  assert.ok(getMost <= signedQueryParamsMax, `a GET with ${getMost} parameters`);
  assert.ok(postMost > 2000, `the longest POST had only ${postMost} parameters`);
});
