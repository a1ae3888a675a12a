// #/lineage: volumes, snapshots, clones and images as a graph. #/lineage?focus=ID shows only what ID came
// from and what depends on it; big graphs fold leaf fans into "+N more" nodes until one is focused.
import { DescribeImagesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { ec2 } from '../api.ts';
import { collectPages } from '../components/paging.ts';
import { navigate } from '../components/router.ts';
import { usePoll } from '../components/use-poll.ts';
import { ErrorBanner } from '../components/ui.tsx';
import { buildLineage, collapse, focusOn } from '../lineage/lineage-graph.ts';
import type { LineageGraph } from '../lineage/lineage-graph.ts';
import { layoutLineage, nodeHeight, nodeWidth } from '../lineage/lineage-layout.ts';
import type { Layout, PlacedNode } from '../lineage/lineage-layout.ts';
import type { Session } from '../session.ts';

/** Above this many nodes the unfocused graph is collapsed. */
const collapseAboveNodes = 60;
/** Leaves kept under each node when collapsed. */
const leavesKept = 3;
const nodesMax = 10_000;

async function loadLineage(session: Session): Promise<LineageGraph> {
  const client = ec2(session);
  const [volumes, snapshots, images] = await Promise.all([
    collectPages(async (NextToken, MaxResults) => {
      const out = await client.send(new DescribeVolumesCommand({ NextToken, MaxResults }));
      return { rows: out.Volumes ?? [], nextToken: out.NextToken };
    }, nodesMax),
    collectPages(async (NextToken, MaxResults) => {
      const out = await client.send(
        new DescribeSnapshotsCommand({ OwnerIds: ['self'], NextToken, MaxResults }),
      );
      return { rows: out.Snapshots ?? [], nextToken: out.NextToken };
    }, nodesMax),
    client.send(new DescribeImagesCommand({ Owners: ['self'] })),
  ]);
  return buildLineage({ volumes: volumes.rows, snapshots: snapshots.rows, images: images.Images ?? [] });
}

/** The lineage page. */
export function LineagePage({ session, focus }: { session: Session; focus: string | null }): JSX.Element {
  const graph = usePoll(() => loadLineage(session), 5000, 'lineage');
  const [expanded, setExpanded] = useState(false);
  const [search, setSearch] = useState(focus ?? '');
  const shown = useMemo(() => {
    if (graph.data === undefined) return undefined;
    if (focus !== null && focus !== '') return focusOn(graph.data, focus);
    return !expanded && graph.data.nodes.length > collapseAboveNodes
      ? collapse(graph.data, leavesKept)
      : graph.data;
  }, [graph.data, focus, expanded]);
  const layout = useMemo(() => (shown === undefined ? undefined : layoutLineage(shown)), [shown]);
  const total = graph.data?.nodes.length ?? 0;
  return (
    <section>
      <h1>Lineage</h1>
      <form
        class="inline-form"
        aria-label="Focus"
        onSubmit={(event) => {
          event.preventDefault();
          navigate(search === '' ? '/lineage' : `/lineage?focus=${encodeURIComponent(search.trim())}`);
        }}
      >
        <label>
          Focus on{' '}
          <input
            name="focus"
            placeholder="vol-… snap-… ami-…"
            value={search}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Focus</button>
        {focus !== null && (
          <button
            type="button"
            onClick={() => {
              setSearch('');
              navigate('/lineage');
            }}
          >
            Show all
          </button>
        )}
        {focus === null && total > collapseAboveNodes && (
          <button type="button" onClick={() => setExpanded(!expanded)}>
            {expanded ? 'Collapse' : 'Expand all'}
          </button>
        )}
      </form>
      <p class="muted">
        {layout === undefined
          ? 'Loading…'
          : `${layout.nodes.length} of ${total} nodes shown. Arrows point from a resource to what was made from it.`}{' '}
        <span class="legend">
          <span class="swatch kind-volume" /> volume <span class="swatch kind-snapshot" /> snapshot{' '}
          <span class="swatch kind-image" /> image
        </span>
      </p>
      <ErrorBanner message={graph.error} />
      {layout !== undefined && layout.nodes.length === 0 && (
        <p>No volumes, snapshots or images{focus === null ? ' yet' : ` related to ${focus}`}.</p>
      )}
      {layout !== undefined && layout.nodes.length > 0 && <LineageSvg layout={layout} focus={focus} />}
    </section>
  );
}

function nodeHref(node: PlacedNode): string {
  if (node.kind === 'volume' && node.state !== 'deleted') return `#/volumes/${node.id}`;
  if (node.kind === 'group') return `#/lineage?focus=${node.id.slice('group:'.length)}`;
  return `#/lineage?focus=${node.id}`;
}

function LineageSvg({ layout, focus }: { layout: Layout; focus: string | null }): JSX.Element {
  return (
    <div class="graph-wrap">
      <svg
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        role="img"
        aria-label="Lineage graph"
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="10"
            refY="5"
            markerWidth="8"
            markerHeight="8"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
          </marker>
        </defs>
        {layout.edges.map((edge) => (
          <polyline
            key={`${edge.from}>${edge.to}`}
            class="edge"
            data-from={edge.from}
            data-to={edge.to}
            points={edge.points.map((p) => `${p.x},${p.y}`).join(' ')}
            marker-end="url(#arrow)"
          />
        ))}
        {layout.nodes.map((node) => (
          <a
            key={node.id}
            href={nodeHref(node)}
            class={`node kind-${node.kind} ${node.id === focus ? 'focused' : ''}`}
            data-id={node.id}
            data-kind={node.kind}
          >
            <rect
              x={node.x - nodeWidth / 2}
              y={node.y - nodeHeight / 2}
              width={nodeWidth}
              height={nodeHeight}
              rx="6"
            />
            <text x={node.x} y={node.y - 3} text-anchor="middle">
              {node.label.length > 30 ? `${node.label.slice(0, 29)}…` : node.label}
            </text>
            <text x={node.x} y={node.y + 12} text-anchor="middle" class="node-state">
              {node.kind === 'group' ? 'click to focus' : `${node.kind} · ${node.state}`}
            </text>
            <title>{`${node.kind} ${node.id} ${node.state}`}</title>
          </a>
        ))}
      </svg>
    </div>
  );
}
