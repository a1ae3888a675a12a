// Characters XML 1.0 cannot carry (https://www.w3.org/TR/xml/#charsets): C0 controls other than tab, LF
// and CR, lone surrogates, U+FFFE and U+FFFF. One such character in a response makes the whole document
// unparsable for every client that sees it, so the edge refuses them on input (xmlUnsafeCharacter) and the
// XML writers replace any that are already stored (xmlSafeText).

// With the `u` flag a lone surrogate is one code point outside every allowed range, so it matches too.
const notXmlChar = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const notXmlChars = new RegExp(notXmlChar.source, 'gu');

/** The first character of `text` that XML 1.0 cannot carry, as `U+0001`, or undefined when there is none. */
export function xmlUnsafeCharacter(text: string): string | undefined {
  const match = notXmlChar.exec(text);
  if (match === null) return undefined;
  const code = match[0].codePointAt(0) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `text` with every character XML 1.0 cannot carry replaced by U+FFFD, the Unicode replacement character. */
export function xmlSafeText(text: string): string {
  return notXmlChar.test(text) ? text.replace(notXmlChars, '\uFFFD') : text;
}
