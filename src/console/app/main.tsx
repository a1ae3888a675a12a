// The Strata web console: a client of Strata's own public API, served by `strata serve` at /console/.
// Routes are hash routes (components/router.ts); every call is SigV4-signed with the tab's keys (api.ts).
import './style.css';
import type { JSX } from 'preact';
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { useRoute } from './components/router.ts';
import type { Route } from './components/router.ts';
import { ImagesPage } from './pages/images.tsx';
import { InstanceDetailPage } from './pages/instance-detail.tsx';
import { InstancesPage } from './pages/instances.tsx';
import { LineagePage } from './pages/lineage.tsx';
import { LoginPage } from './pages/login.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { SnapshotsPage } from './pages/snapshots.tsx';
import { VolumeDetailPage } from './pages/volume-detail.tsx';
import { VolumesPage } from './pages/volumes.tsx';
import { clearSession, loadSession } from './session.ts';
import type { Session } from './session.ts';

const sections = [
  ['', 'Overview'],
  ['volumes', 'Volumes'],
  ['snapshots', 'Snapshots'],
  ['images', 'Images'],
  ['instances', 'Instances'],
  ['lineage', 'Lineage'],
] as const;

function Page({ route, session }: { route: Route; session: Session }): JSX.Element {
  const [section, id] = route.parts;
  switch (section) {
    case 'volumes':
      return id === undefined ? (
        <VolumesPage session={session} />
      ) : (
        <VolumeDetailPage session={session} volumeId={id} />
      );
    case 'snapshots':
      return <SnapshotsPage session={session} />;
    case 'images':
      return <ImagesPage session={session} />;
    case 'instances':
      return id === undefined ? (
        <InstancesPage session={session} />
      ) : (
        <InstanceDetailPage session={session} instanceId={id} key={id} />
      );
    case 'lineage':
      return <LineagePage session={session} focus={route.query.get('focus')} />;
    default:
      return <OverviewPage session={session} />;
  }
}

function App(): JSX.Element {
  const route = useRoute();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  if (session === undefined || route.parts[0] === 'login')
    return <LoginPage token={route.query.get('token')} onSignIn={setSession} />;
  const signOut = (): void => {
    clearSession();
    setSession(undefined);
  };
  const current = route.parts[0] ?? '';
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Strata</span>
        <nav aria-label="Sections">
          {sections.map(([path, title]) => (
            <a key={path} href={`#/${path}`} aria-current={current === path ? 'page' : undefined}>
              {title}
            </a>
          ))}
        </nav>
        <span class="who">
          {session.accessKeyId} · {session.region} <button onClick={signOut}>Sign out</button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} session={session} />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
