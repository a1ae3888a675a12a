// Renders an action's result as the EC2 Query XML response.
//
// An action returns a plain object whose keys are EC2's XML element names (camelCase, as in the API
// reference): `{ volumeId: 'vol-…', size: 8, attachmentSet: [], tagSet: [{ key: 'a', value: 'b' }] }`.
// Arrays become `<xSet><item>…</item></xSet>`; booleans `true`/`false`; Dates ISO-8601; null/undefined
// are left out; text is XML-escaped, and characters XML 1.0 cannot carry (stored before the edge refused
// them, or written to the database directly) become U+FFFD, so no stored value can make a response unparsable. The renderer wraps it as
// `<CreateVolumeResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>…</requestId>…`.
import { XMLBuilder } from 'fast-xml-parser';
import { assert } from '../../base/assert.ts';
import { xmlSafeText } from '../xml-chars.ts';

/** The EC2 API version Strata speaks and its XML namespace. */
export const ec2ApiVersion = '2016-11-15';
const namespace = `http://ec2.amazonaws.com/doc/${ec2ApiVersion}/`;

/** A value an action may return inside its result. */
export type XmlValue = string | number | boolean | Date | null | undefined | readonly XmlValue[] | XmlObject;

/** An element's children by element name. */
export interface XmlObject {
  readonly [element: string]: XmlValue;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  processEntities: true,
});

/** The complete XML document answering `action` with `result`. */
export function renderEc2Response(action: string, requestId: string, result: XmlObject): string {
  assert(/^[A-Za-z]+$/.test(action), `bad action name ${action}`);
  assert(!('requestId' in result), 'requestId is added by the renderer');
  const body = { '@_xmlns': namespace, requestId, ...toBuilderTree(result) };
  const xml = builder.build({ [`${action}Response`]: body }) as string;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
}

function toBuilderTree(object: XmlObject): Record<string, unknown> {
  const tree: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(object)) {
    assert(!name.startsWith('@_'), `element name ${name} looks like an attribute`);
    const node = toBuilderNode(value);
    if (node !== undefined) tree[name] = node;
  }
  return tree;
}

function toBuilderNode(value: XmlValue): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    assert(Number.isFinite(value), 'XML numbers must be finite');
    return String(value);
  }
  if (typeof value === 'string') return xmlSafeText(value);
  if (value instanceof Date) return value.toISOString();
  if (isList(value)) {
    const items = value.map(toBuilderNode).filter((item) => item !== undefined);
    return items.length === 0 ? '' : { item: items };
  }
  return toBuilderTree(value);
}

function isList(value: XmlValue): value is readonly XmlValue[] {
  return Array.isArray(value);
}
