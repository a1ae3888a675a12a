// The lineage of an account's storage as a graph: volume → snapshot (taken from it) → volume (cloned from it)
// → …, and snapshot → image (whose block device mappings use it). Pure data, no DOM: the page lays it out.
// A snapshot whose volume is gone still names it, so that volume shows as a "deleted" node.

/** What a node stands for; `group` is several leaves folded into one (collapse). */
export type LineageKind = 'volume' | 'snapshot' | 'image' | 'group';

/** A node of the lineage graph. */
export interface LineageNode {
  readonly id: string;
  readonly kind: LineageKind;
  readonly label: string;
  readonly state: string;
  /** For a group: how many nodes it stands for. */
  readonly count?: number;
}

/** An edge: `from` is the origin of `to`. */
export interface LineageEdge {
  readonly from: string;
  readonly to: string;
}

/** A lineage graph. */
export interface LineageGraph {
  readonly nodes: readonly LineageNode[];
  readonly edges: readonly LineageEdge[];
}

/** The fields of EC2's Volume, Snapshot and Image the graph reads. */
export interface LineageInput {
  readonly volumes: readonly {
    VolumeId?: string;
    SnapshotId?: string;
    State?: string;
    Tags?: { Key?: string; Value?: string }[];
  }[];
  readonly snapshots: readonly {
    SnapshotId?: string;
    VolumeId?: string;
    State?: string;
    Tags?: { Key?: string; Value?: string }[];
  }[];
  readonly images: readonly {
    ImageId?: string;
    Name?: string;
    State?: string;
    BlockDeviceMappings?: { Ebs?: { SnapshotId?: string } }[];
  }[];
}

function named(id: string, tags: LineageInput['volumes'][number]['Tags']): string {
  const name = tags?.find((tag) => tag.Key === 'Name')?.Value;
  return name === undefined || name === '' ? id : `${name} (${id})`;
}

/** Builds the graph from Describe* results. */
export function buildLineage(input: LineageInput): LineageGraph {
  const nodes = new Map<string, LineageNode>();
  const edges: LineageEdge[] = [];
  for (const v of input.volumes) {
    if (v.VolumeId !== undefined)
      nodes.set(v.VolumeId, {
        id: v.VolumeId,
        kind: 'volume',
        label: named(v.VolumeId, v.Tags),
        state: v.State ?? '',
      });
  }
  for (const s of input.snapshots) {
    if (s.SnapshotId === undefined) continue;
    nodes.set(s.SnapshotId, {
      id: s.SnapshotId,
      kind: 'snapshot',
      label: named(s.SnapshotId, s.Tags),
      state: s.State ?? '',
    });
    if (s.VolumeId === undefined || s.VolumeId === '' || s.VolumeId === 'vol-ffffffff') continue;
    if (!nodes.has(s.VolumeId))
      nodes.set(s.VolumeId, { id: s.VolumeId, kind: 'volume', label: s.VolumeId, state: 'deleted' });
    edges.push({ from: s.VolumeId, to: s.SnapshotId });
  }
  for (const v of input.volumes) {
    if (
      v.VolumeId !== undefined &&
      v.SnapshotId !== undefined &&
      v.SnapshotId !== '' &&
      nodes.has(v.SnapshotId)
    )
      edges.push({ from: v.SnapshotId, to: v.VolumeId });
  }
  for (const image of input.images) {
    if (image.ImageId === undefined) continue;
    nodes.set(image.ImageId, {
      id: image.ImageId,
      kind: 'image',
      label: image.Name ?? image.ImageId,
      state: image.State ?? '',
    });
    for (const mapping of image.BlockDeviceMappings ?? []) {
      const snapshotId = mapping.Ebs?.SnapshotId;
      if (snapshotId !== undefined && nodes.has(snapshotId))
        edges.push({ from: snapshotId, to: image.ImageId });
    }
  }
  return { nodes: [...nodes.values()], edges };
}

function reach(start: string, next: Map<string, string[]>): Set<string> {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length > 0) {
    for (const id of next.get(queue.pop() ?? '') ?? []) {
      if (!seen.has(id)) {
        seen.add(id);
        queue.push(id);
      }
    }
  }
  return seen;
}

/** Only `id`, everything it came from and everything that depends on it (what a delete would affect). */
export function focusOn(graph: LineageGraph, id: string): LineageGraph {
  const down = new Map<string, string[]>();
  const up = new Map<string, string[]>();
  for (const edge of graph.edges) {
    down.set(edge.from, [...(down.get(edge.from) ?? []), edge.to]);
    up.set(edge.to, [...(up.get(edge.to) ?? []), edge.from]);
  }
  const keep = new Set([...reach(id, down), ...reach(id, up)]);
  return {
    nodes: graph.nodes.filter((node) => keep.has(node.id)),
    edges: graph.edges.filter((edge) => keep.has(edge.from) && keep.has(edge.to)),
  };
}

/**
 * Folds, under each node, the leaf children beyond the first `keep` into one group node ("+N volumes"), and
 * hides nodes with no edge at all behind one group: a 1,000-node pool becomes its structure.
 */
export function collapse(graph: LineageGraph, keep: number): LineageGraph {
  const outDegree = new Map<string, number>();
  const linked = new Set<string>();
  for (const edge of graph.edges) {
    outDegree.set(edge.from, (outDegree.get(edge.from) ?? 0) + 1);
    linked.add(edge.from).add(edge.to);
  }
  const hidden = new Set<string>();
  const nodes: LineageNode[] = [];
  const edges: LineageEdge[] = [];
  const leavesOf = new Map<string, string[]>();
  for (const edge of graph.edges) {
    if ((outDegree.get(edge.to) ?? 0) === 0)
      leavesOf.set(edge.from, [...(leavesOf.get(edge.from) ?? []), edge.to]);
  }
  for (const [parent, leaves] of leavesOf) {
    if (leaves.length <= keep) continue;
    const folded = leaves.slice(keep);
    for (const id of folded) hidden.add(id);
    const groupId = `group:${parent}`;
    nodes.push({
      id: groupId,
      kind: 'group',
      label: `+${folded.length} more`,
      state: '',
      count: folded.length,
    });
    edges.push({ from: parent, to: groupId });
  }
  const loners = graph.nodes.filter((node) => !linked.has(node.id));
  if (loners.length > keep) {
    for (const node of loners.slice(keep)) hidden.add(node.id);
    nodes.push({
      id: 'group:unlinked',
      kind: 'group',
      label: `+${loners.length - keep} without lineage`,
      state: '',
      count: loners.length - keep,
    });
  }
  return {
    nodes: [...graph.nodes.filter((node) => !hidden.has(node.id)), ...nodes],
    edges: [...graph.edges.filter((edge) => !hidden.has(edge.to)), ...edges],
  };
}
