// #/login: sign in with an access key and secret (checked with DescribeRegions before they are kept), or with
// the one-time token of a `strata console-url` link (#/login?token=…), which the daemon exchanges once, over
// a POST, for the admin keys. The token is in the fragment, so it never reaches a server log.
import { DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api.ts';
import { navigate } from '../components/router.ts';
import { ErrorBanner } from '../components/ui.tsx';
import { saveSession } from '../session.ts';
import type { Session } from '../session.ts';

/** GET /_strata/console/config: what the login needs before any key is known. */
async function consoleRegion(): Promise<string> {
  const response = await fetch('/_strata/console/config');
  const body = (await response.json()) as { region?: string };
  return body.region ?? 'us-east-1';
}

async function checked(session: Session): Promise<Session> {
  const client = new EC2Client({
    endpoint: location.origin,
    region: session.region,
    credentials: session,
    maxAttempts: 1,
  });
  await client.send(new DescribeRegionsCommand({}));
  return session;
}

async function redeem(token: string): Promise<Session> {
  const response = await fetch('/_strata/console/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const body = (await response.json()) as {
    accessKeyId?: string;
    secretAccessKey?: string;
    region?: string;
    message?: string;
  };
  if (!response.ok || body.accessKeyId === undefined || body.secretAccessKey === undefined)
    throw new Error(body.message ?? `sign-in link refused (${response.status})`);
  return {
    accessKeyId: body.accessKeyId,
    secretAccessKey: body.secretAccessKey,
    region: body.region ?? (await consoleRegion()),
  };
}

/** The sign-in page; `onSignIn` gets the checked session. */
export function LoginPage({
  token,
  onSignIn,
}: {
  token: string | null;
  onSignIn: (session: Session) => void;
}): JSX.Element {
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secretAccessKey, setSecret] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const finish = (session: Session): void => {
    saveSession(session);
    onSignIn(session);
    navigate('/');
  };
  useEffect(() => {
    if (token === null) return;
    setBusy(true);
    // Out of the address bar and history at once: the token is spent either way.
    history.replaceState(null, '', '#/login');
    redeem(token)
      .then(checked)
      .then(finish, (failure: unknown) => setError(`Sign-in link refused: ${errorMessage(failure)}`))
      .finally(() => setBusy(false));
  }, [token]);
  const submit = (event: Event): void => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    consoleRegion()
      .then((region) =>
        checked({ accessKeyId: accessKeyId.trim(), secretAccessKey: secretAccessKey.trim(), region }),
      )
      .then(finish, (failure: unknown) => setError(`Sign-in refused: ${errorMessage(failure)}`))
      .finally(() => setBusy(false));
  };
  return (
    <main class="login">
      <h1>Strata console</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Access key ID
          <input
            name="accessKeyId"
            autocomplete="username"
            required
            value={accessKeyId}
            onInput={(e) => setAccessKeyId((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Secret access key
          <input
            name="secretAccessKey"
            type="password"
            autocomplete="current-password"
            required
            value={secretAccessKey}
            onInput={(e) => setSecret((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <ErrorBanner message={error} />
      <LoginHelp />
    </main>
  );
}

function LoginHelp(): JSX.Element {
  return (
    <p class="muted">
      The keys stay in this tab (sessionStorage) and sign every request. On the daemon's host,{' '}
      <code>strata console-url</code> prints a one-time sign-in link.
    </p>
  );
}
