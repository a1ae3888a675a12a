// The fuzzer's vocabulary: a seeded chooser, hostile strings and numbers, and the pool of resource ids the
// daemon has handed out (so fuzzed Describe/Delete/Attach calls reach real resources, not only NotFound).
import { seededRandom } from '../../base/prng.ts';

const knownIdsMax = 200;
const idPattern = /\b(?:vol|snap|ami|i|r)-[0-9a-f]{17}\b/g;

/** A seeded source of choices; every generator takes one, so a case replays from its seed. */
export class Chooser {
  readonly #random: () => number;
  constructor(readonly seed: number) {
    this.#random = seededRandom(seed);
  }
  /** A float in [0, 1). */
  next(): number {
    return this.#random();
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.#random() < p;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.#random() * (max - min + 1));
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.#random() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  /** `length` random bytes. */
  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(this.#random() * 256);
    return out;
  }
}

/** Ids seen in the daemon's answers, newest last, bounded. */
export class KnownIds {
  readonly #ids: string[] = [];
  /** Remembers every EC2 id in `text`. */
  learn(text: string): void {
    for (const id of text.match(idPattern) ?? []) {
      if (this.#ids.includes(id)) continue;
      this.#ids.push(id);
      if (this.#ids.length > knownIdsMax) this.#ids.shift();
    }
  }
  /** A known id with `prefix` (`vol`, `snap` …), or a well-formed one that does not exist. */
  pick(choose: Chooser, prefix: string): string {
    const matching = this.#ids.filter((id) => id.startsWith(`${prefix}-`));
    if (matching.length > 0 && choose.chance(0.8)) return choose.pick(matching);
    return `${prefix}-${choose.bytes(9).toString('hex').slice(0, 17)}`;
  }
}

const fixedStrings = [
  '',
  ' ',
  'true',
  'false',
  'TRUE',
  'null',
  '0',
  '-1',
  '1',
  '8',
  '16384',
  '2147483648',
  '9007199254740993',
  '1e309',
  '1.5',
  ' 7 ',
  '0x10',
  'NaN',
  'us-east-1',
  'us-east-1a',
  'us-east-1z',
  'gp2',
  'gp3',
  'io1',
  'io2',
  'st1',
  'sc1',
  'standard',
  't2.micro',
  't3.nano',
  'm5.24xlarge',
  '/dev/sda1',
  '/dev/xvdf',
  '/dev/sdz',
  'self',
  'all',
  'amazon',
  'x86_64',
  'arm64',
  'hvm',
  'stop',
  'terminate',
  'description',
  'createVolumePermission',
  'launchPermission',
  'tag:Name',
  'tag-key',
  'volume-id',
  'status',
  'state',
  '*',
  '?',
  '<a>&amp;</a>',
  '"\'<&>',
  ']]>',
  '<![CDATA[x]]>',
  '%zz',
  '%E0%A4%A',
  '%00',
  '../../etc/passwd',
  'aws:reserved',
  'ünïcødé',
  '名前',
  '😀',
  '\u202e',
  '\uFEFF',
  '\uFFFD',
  '\t\n\r',
  'a\x01b',
  'nul\0',
  '\x1b[31m',
  '\x7f',
  'AAAA=',
  'eyJ2IjoxfQ==',
  '{"a":1}',
  "'; DROP TABLE volumes; --",
];

/** A hostile or plausible parameter value: fixed oddities, known ids, numbers, long or random text. */
export function anyValue(choose: Chooser, ids: KnownIds): string {
  const roll = choose.next();
  if (roll < 0.35) return choose.pick(fixedStrings);
  if (roll < 0.55) return ids.pick(choose, choose.pick(['vol', 'snap', 'ami', 'i', 'r']));
  if (roll < 0.65) return String(choose.int(-5, 70_000));
  if (roll < 0.72) return choose.pick(['a', 'é', '\x01', '😀', '%']).repeat(choose.int(100, 20_000));
  if (roll < 0.85) return randomText(choose, choose.int(1, 64));
  return choose.pick(fixedStrings) + randomText(choose, choose.int(1, 8));
}

/** `length` code points drawn from ASCII, controls, Latin-1, BMP, astral and lone surrogates. */
export function randomText(choose: Chooser, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    const band = choose.next();
    const code =
      band < 0.6
        ? choose.int(0x20, 0x7e)
        : band < 0.7
          ? choose.int(0, 0x1f)
          : band < 0.8
            ? choose.int(0x80, 0xff)
            : band < 0.9
              ? choose.int(0x100, 0xfffd)
              : band < 0.97
                ? choose.int(0x10000, 0x10ffff)
                : choose.int(0xd800, 0xdfff);
    text += String.fromCodePoint(code);
  }
  return text;
}

/** `text` with lone surrogates replaced by U+FFFD: what a URL can carry (encodeURIComponent throws on them). */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
