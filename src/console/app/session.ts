// The signed-in keys, for this browser tab only: sessionStorage, never localStorage or a cookie, so closing
// the tab signs out and no other origin or tab sees them.
/** An access key and the region it signs for. */
export interface Session {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

const storageKey = 'strata.session';

/** The session of this tab, or undefined when signed out. */
export function loadSession(): Session | undefined {
  const raw = sessionStorage.getItem(storageKey);
  if (raw === null) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (typeof parsed.accessKeyId !== 'string' || typeof parsed.secretAccessKey !== 'string')
      return undefined;
    return {
      accessKeyId: parsed.accessKeyId,
      secretAccessKey: parsed.secretAccessKey,
      region: parsed.region ?? '',
    };
  } catch {
    return undefined;
  }
}

/** Keeps `session` for this tab. */
export function saveSession(session: Session): void {
  sessionStorage.setItem(storageKey, JSON.stringify(session));
}

/** Forgets the keys. */
export function clearSession(): void {
  sessionStorage.removeItem(storageKey);
}
