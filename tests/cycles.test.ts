// No import circles between the modules of a project (issue 24). Between projects Nx's module
// boundaries already forbid them; inside one, a circle makes module evaluation order matter (a
// `const` read before its module has run is undefined under esbuild's bundling) and means two files
// are one concept split badly. The edges are the relative imports of every source file, type-only
// ones included (tests/imports.testkit.ts), so a circle cannot hide behind `import type` either.
import { expect, test } from 'vitest';
import { projects, resolveRelative, specifiersOf } from './imports.testkit';

/** Each circle once, as its files in import order, the first file repeated at the end. */
function circles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  // Tarjan's strongly connected components; a component of size > 1 (or a self-import) holds circles,
  // and one shortest circle through its first file is reported per component
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(shortestCircle(v, new Set(comp), edges));
    }
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) strong(v);
  return found;
}

/** Breadth-first from `start` back to itself inside the component. */
function shortestCircle(start: string, comp: Set<string>, edges: Map<string, string[]>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of edges.get(v) ?? []) {
      if (!comp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = prev.get(x)!) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

test('no import circles inside any lib or app', () => {
  const edges = new Map<string, string[]>();
  for (const p of projects())
    for (const f of p.files)
      edges.set(f, specifiersOf(f).filter((s) => s.startsWith('.')).map((s) => resolveRelative(f, s)).filter((t): t is string => t !== null));
  expect(circles(edges).map((c) => c.join(' → '))).toEqual([]);
});
