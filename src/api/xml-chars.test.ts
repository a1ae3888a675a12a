import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XMLValidator } from 'fast-xml-parser';
import { xmlSafeText, xmlUnsafeCharacter } from './xml-chars.ts';

test('controls other than tab, LF and CR, lone surrogates and U+FFFE/U+FFFF are unsafe', () => {
  assert.equal(xmlUnsafeCharacter('a\x01b'), 'U+0001');
  assert.equal(xmlUnsafeCharacter('nul\0'), 'U+0000');
  assert.equal(xmlUnsafeCharacter('x\uD800y'), 'U+D800');
  assert.equal(xmlUnsafeCharacter('\uDC00'), 'U+DC00');
  assert.equal(xmlUnsafeCharacter('\uFFFF'), 'U+FFFF');
  assert.equal(xmlUnsafeCharacter('\x1b[31m'), 'U+001B');
});

test('ordinary text, whitespace, astral characters and C1 controls are safe', () => {
  for (const text of ['', 'tab\tlf\ncr\r', 'ünïcødé ✓', '😀 \u{10FFFF}', '\x7f\x85', '\uE000\uFFFD']) {
    assert.equal(xmlUnsafeCharacter(text), undefined, JSON.stringify(text));
    assert.equal(xmlSafeText(text), text);
  }
});

test('xmlSafeText replaces every unsafe character, and the result parses inside an element', () => {
  const text = 'a\x01b\0c\uD83Dd\uFFFE😀';
  const safe = xmlSafeText(text);
  assert.equal(safe, 'a\uFFFDb\uFFFDc\uFFFDd\uFFFD😀');
  assert.equal(xmlUnsafeCharacter(safe), undefined);
  assert.equal(XMLValidator.validate(`<a>${safe}</a>`), true);
});
