// What every answer to a fuzzed request must be: not a 5xx, and a body that parses as its API's format
// (EC2 XML, checked by fast-xml-parser's validator plus the XML 1.0 character rule that validator skips;
// EBS JSON). Returns the problem in words, or undefined when the answer is acceptable.
import { XMLValidator } from 'fast-xml-parser';
import { xmlUnsafeCharacter } from '../xml-chars.ts';

/** The parts of a response the judge looks at. */
export interface JudgedResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The problem with `response`, or undefined. */
export function judgeResponse(response: JudgedResponse): string | undefined {
  if (response.status >= 500) return `status ${response.status}: ${preview(response.body)}`;
  if (response.status < 100) return `no valid status (${response.status})`;
  const type = response.contentType ?? '';
  if (response.body.length === 0) return undefined;
  if (type.startsWith('text/xml')) return judgeXml(response.body);
  if (type.startsWith('application/json')) return judgeJson(response.body);
  if (type.startsWith('application/octet-stream') || type.startsWith('text/plain')) return undefined;
  return `a ${response.status} body of unexpected type ${JSON.stringify(type)}: ${preview(response.body)}`;
}

function judgeXml(body: Buffer): string | undefined {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return `XML body is not UTF-8: ${preview(body)}`;
  }
  const unsafe = xmlUnsafeCharacter(text);
  if (unsafe !== undefined) return `XML body carries ${unsafe}: ${preview(body)}`;
  const valid = XMLValidator.validate(text);
  if (valid !== true) return `XML body does not parse (${valid.err.msg}): ${preview(body)}`;
  if (!/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<\w+/.test(text))
    return `not an EC2 XML document: ${preview(body)}`;
  return undefined;
}

function judgeJson(body: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(utf8.decode(body));
    if (parsed === null || typeof parsed !== 'object') return `JSON body is not an object: ${preview(body)}`;
    return undefined;
  } catch {
    return `JSON body does not parse: ${preview(body)}`;
  }
}

/** The start of a body, printable, for failure reports. */
export function preview(body: Buffer | string): string {
  const text = typeof body === 'string' ? body : body.subarray(0, 300).toString('utf8');
  return JSON.stringify(text.slice(0, 300));
}
