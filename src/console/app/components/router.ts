// Hash routes (ARCHITECTURE.md, "the console"): #/volumes, #/snapshots, #/images, #/instances, #/lineage,
// #/instances/ID, #/volumes/ID, #/login. The fragment never reaches the server, so a sign-in token in it stays
// out of request lines and logs.
import { useEffect, useState } from 'preact/hooks';

/** The current route: its path segments and its query. */
export interface Route {
  readonly parts: readonly string[];
  readonly query: URLSearchParams;
}

/** Parses `#/a/b?x=y`. */
export function parseHash(hash: string): Route {
  const body = hash.replace(/^#\/?/, '');
  const at = body.indexOf('?');
  const path = at === -1 ? body : body.slice(0, at);
  return {
    parts: path
      .split('/')
      .filter((part) => part !== '')
      .map(decodeURIComponent),
    query: new URLSearchParams(at === -1 ? '' : body.slice(at + 1)),
  };
}

/** The route, following hash changes. */
export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = (): void => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return parseHash(hash);
}

/** Goes to `path` (`/volumes`). */
export function navigate(path: string): void {
  location.hash = `#${path}`;
}
