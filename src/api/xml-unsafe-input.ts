// The one input check for free text (tag keys and values, descriptions, names, ids): every EC2 Query
// parameter and every EBS direct path, query and JSON string is refused when it holds a character XML 1.0
// cannot carry, before any action sees it. Stored, such text would break every later Describe that lists it,
// for every account that can see it (issue 12).
import { ApiError } from './errors.ts';
import type { ErrorProtocol } from './render-error.ts';
import { xmlUnsafeCharacter } from './xml-chars.ts';

/** Throws the protocol's invalid-input error for the first name or value with a character XML cannot carry. */
export function rejectXmlUnsafe(entries: Iterable<readonly [string, string]>, protocol: ErrorProtocol): void {
  for (const [name, value] of entries) {
    const inName = xmlUnsafeCharacter(name);
    if (inName !== undefined) throw unsafe(protocol, 'the parameter name', inName);
    const inValue = xmlUnsafeCharacter(value);
    if (inValue !== undefined) throw unsafe(protocol, `parameter ${name}`, inValue);
  }
}

/** rejectXmlUnsafe for every key and string of a parsed JSON body (EBS direct), named by its JSON path. */
export function rejectXmlUnsafeJson(body: unknown): void {
  // A worklist, not recursion: a 1 MiB body nests deep enough to overflow the stack.
  const work: [unknown, string][] = [[body, 'body']];
  for (let next = work.pop(); next !== undefined; next = work.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      const found = xmlUnsafeCharacter(value);
      if (found !== undefined) throw unsafe('ebs', path, found);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const found = xmlUnsafeCharacter(key);
        if (found !== undefined) throw unsafe('ebs', `a key in ${path}`, found);
        work.push([item, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`]);
      }
    }
  }
}

function unsafe(protocol: ErrorProtocol, where: string, character: string): ApiError {
  // The name may itself hold the character; the message shows only its code point, so it stays printable.
  const message = `The value of ${where} is invalid: it contains the control or non-character ${character}, which is not allowed.`;
  return protocol === 'ebs'
    ? new ApiError('ValidationException', { message, reason: 'INVALID_PARAMETER_VALUE' })
    : new ApiError('InvalidParameterValue', { message });
}
