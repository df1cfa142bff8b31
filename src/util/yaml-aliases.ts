/**
 * Anchors, aliases and merge keys checked before a YAML document is turned into data.
 *
 * The yaml library resolves aliases lazily inside `toJS()` and throws bare `ReferenceError`s
 * with no position for an alias without an anchor, for a `<<:` merge of something that is not
 * a mapping, and (by a heuristic count) for alias bombs ("billion laughs"). Those became
 * internal errors with a stack trace (issue 10 #8). This pass walks the parsed document once,
 * in document order, and reports each problem at the alias or merge value, so `toJS()` after it
 * cannot fail on aliases:
 *
 * - an alias must name an anchor defined before it (YAML 1.2 §7.1: an alias refers to the most
 *   recent preceding node with that anchor);
 * - an alias inside the node its anchor is on would build a cycle;
 * - a merge value (`<<: X`) must be a mapping, an alias of one, or a sequence of those
 *   (https://yaml.org/type/merge.html);
 * - the data the aliases expand to is bounded: each alias costs the node count of what it
 *   copies, and the sum over the document may not exceed `MAX_ALIAS_EXPANSION` nodes. Unlike
 *   the library's per-anchor heuristic this is exact and names the alias that crosses the line.
 *
 * Cost: O(nodes) time, O(depth + anchors) memory; nesting deeper than `MAX_DEPTH` is refused
 * (it would overflow the stack of every later recursive pass).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { UserError } from '../errors.js';

/** Nodes that aliases may add to a document when it becomes data. */
export const MAX_ALIAS_EXPANSION = 1_000_000;
/** Nesting of collections a YAML input may have. */
export const MAX_DEPTH = 500;

export function checkAliases(doc: Document.Parsed, lines: LineCounter, file: string): UserError[] {
  const errors: UserError[] = [];
  const at = (node: { range?: unknown } | null | undefined, code: string, message: string): void => {
    const r = (node as Node | undefined)?.range;
    const p = lines.linePos(r ? r[0] : 0);
    errors.push(new UserError(code, message, { location: { file, line: p.line, col: p.col } }));
  };
  const anchors = new Map<string, Node>();
  /** Expanded node count of each anchored node (known once the node is fully walked). */
  const size = new Map<Node, number>();
  const open = new Set<Node>();
  let expanded = 0;
  let bombed = false;

  const isMergeKey = (k: unknown): boolean =>
    isScalar(k) && (k.value === '<<' || (typeof k.value === 'symbol' && k.value.description === '<<'));

  const mergeable = (v: unknown): boolean => {
    if (isMap(v)) return true;
    if (isAlias(v)) return isMap(anchors.get(v.source));
    return false;
  };

  // returns the expanded node count of `node`
  const walk = (node: unknown, depth: number): number => {
    if (node === null || node === undefined) return 1;
    if (depth > MAX_DEPTH) {
      if (!errors.some((e) => e.code === 'YAML_TOO_DEEP')) at(node, 'YAML_TOO_DEEP', `nested more than ${MAX_DEPTH} levels deep`);
      return 1;
    }
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) {
        at(node, 'YAML_ALIAS', `alias "*${node.source}" names no anchor defined before it (write "&${node.source}" on an earlier node)`);
        return 1;
      }
      if (open.has(target)) {
        at(node, 'YAML_ALIAS', `alias "*${node.source}" is inside the node its anchor marks (a cycle)`);
        return 1;
      }
      const n = size.get(target) ?? 1;
      expanded += n;
      if (expanded > MAX_ALIAS_EXPANSION && !bombed) {
        bombed = true;
        at(node, 'YAML_ALIAS_BOMB', `aliases expand this file to more than ${MAX_ALIAS_EXPANSION} nodes (an alias bomb?); "*${node.source}" alone copies ${n}`);
      }
      return n;
    }
    const n0 = node as Node;
    if (n0.anchor) {
      anchors.set(n0.anchor, n0);
      open.add(n0);
    }
    let n = 1;
    if (isMap(node)) {
      for (const pair of node.items) {
        n += walk(pair.key, depth + 1);
        if (isMergeKey(pair.key)) {
          const v = pair.value;
          const ok = isSeq(v) ? v.items.every(mergeable) : mergeable(v);
          if (!ok && !(isAlias(v) && !anchors.has(v.source))) {
            at((v as Node | null) ?? (pair.key as Node), 'YAML_MERGE', '"<<" merges a mapping, an alias of a mapping, or a list of those');
          }
        }
        n += walk(pair.value, depth + 1);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) n += walk(isPair(item) ? item.value : item, depth + 1);
    }
    if (n0.anchor) {
      open.delete(n0);
      size.set(n0, n);
    }
    return n;
  };
  walk(doc.contents, 0);
  return errors;
}
