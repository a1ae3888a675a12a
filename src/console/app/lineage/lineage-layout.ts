// Lays a lineage graph out left to right with dagre (the maintained successor of the dagre layout library):
// origins on the left, what depends on them to the right.
import dagre from '@dagrejs/dagre';
import type { LineageEdge, LineageGraph, LineageNode } from './lineage-graph.ts';

/** A node with its box centre. */
export interface PlacedNode extends LineageNode {
  readonly x: number;
  readonly y: number;
}

/** An edge with its polyline. */
export interface PlacedEdge extends LineageEdge {
  readonly points: readonly { x: number; y: number }[];
}

/** A laid-out graph and its size. */
export interface Layout {
  readonly nodes: readonly PlacedNode[];
  readonly edges: readonly PlacedEdge[];
  readonly width: number;
  readonly height: number;
}

/** Node box size, in SVG units. */
export const nodeWidth = 200;
export const nodeHeight = 40;

/** Runs dagre over `graph`. */
export function layoutLineage(graph: LineageGraph): Layout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 60, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) g.setNode(node.id, { width: nodeWidth, height: nodeHeight });
  for (const edge of graph.edges) g.setEdge(edge.from, edge.to);
  dagre.layout(g);
  const size = g.graph();
  return {
    nodes: graph.nodes.map((node) => {
      const placed = g.node(node.id);
      return { ...node, x: placed.x, y: placed.y };
    }),
    edges: graph.edges.map((edge) => ({ ...edge, points: g.edge(edge.from, edge.to)?.points ?? [] })),
    width: size.width ?? 0,
    height: size.height ?? 0,
  };
}
