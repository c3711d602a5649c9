// Where a finding sits in its source file: a JSON pointer of the checkers (Avro paths name
// fields, `/fields/amountMinor/type`; OpenAPI paths name parameters by location and name,
// `/parameters/query/limit`, and follow $refs) turned into a line and column of the `.avsc`
// or OpenAPI file, so a pull request annotation lands on the line that breaks.
// The yaml package parses JSON too (JSON is YAML 1.2), with source ranges, so both kinds of
// file go through one walk. A pointer that goes further than the file (a field that the new
// file removed, a type defined in another file) stops at the deepest node that exists, and
// the location says it is not exact.
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

export interface SourceLocation {
  /** 1-based, as SARIF regions and editors count. */
  line: number;
  column: number;
  /** False when the pointer went past what the file holds and this is its nearest parent. */
  exact: boolean;
}

/** Pointer tokens, unescaped (`~1` is `/`, `~0` is `~`). */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const PARAMETER_LOCATIONS: ReadonlySet<string> = new Set(['query', 'path', 'header', 'cookie']);

// A $ref chain longer than this is a cycle or a broken document; the walk stops there.
const REF_HOPS_MAX = 32;
// Deeper pointers than this are not produced by the checkers; bounds the walk.
const POINTER_TOKENS_MAX = 512;

function scalarValue(node: unknown): unknown {
  return isScalar(node) ? node.value : undefined;
}

function mapEntry(node: Node, key: string): { key: Node | undefined; value: Node } | undefined {
  if (!isMap(node)) return undefined;
  for (const pair of node.items) {
    if (String(scalarValue(pair.key)) === key && pair.value) {
      return { key: isScalar(pair.key) ? pair.key : undefined, value: pair.value as Node };
    }
  }
  return undefined;
}

function localRefTarget(root: Node, node: Node, hops: number): Node | undefined {
  if (hops >= REF_HOPS_MAX) return undefined;
  const ref = mapEntry(node, '$ref');
  const target = scalarValue(ref?.value);
  if (typeof target !== 'string' || !target.startsWith('#/')) return undefined;
  let current: Node | undefined = root;
  for (const token of pointerTokens(target.slice(1))) {
    current = current && mapEntry(current, token)?.value;
  }
  return current;
}

interface Step {
  node: Node;
  /** Where to point for this step: a map key's position, or the item itself. */
  anchor: Node;
  /** Tokens used (a parameter is `<in>/<name>`: two). */
  consumed: number;
}

function stepInto(root: Node, node: Node, tokens: readonly string[], at: number): Step | undefined {
  const token = tokens[at] ?? '';
  let current = node;
  for (let hops = 0; hops <= REF_HOPS_MAX; hops++) {
    const entry = mapEntry(current, token);
    if (entry) return { node: entry.value, anchor: entry.key ?? entry.value, consumed: 1 };
    if (isSeq(current)) {
      const items = current.items.filter((i): i is Node => i !== null && typeof i === 'object');
      if (/^\d+$/.test(token)) {
        const item = items[Number(token)];
        return item ? { node: item, anchor: item, consumed: 1 } : undefined;
      }
      const next = tokens[at + 1];
      if (PARAMETER_LOCATIONS.has(token) && next !== undefined) {
        const parameter = items.find((i) => {
          const resolved = localRefTarget(root, i, 0) ?? i;
          return (
            scalarValue(mapEntry(resolved, 'in')?.value) === token &&
            scalarValue(mapEntry(resolved, 'name')?.value) === next
          );
        });
        if (parameter) return { node: parameter, anchor: parameter, consumed: 2 };
      }
      const named = items.find((i) => scalarValue(mapEntry(i, 'name')?.value) === token);
      return named ? { node: named, anchor: named, consumed: 1 } : undefined;
    }
    const target = localRefTarget(root, current, hops);
    if (!target) return undefined;
    current = target;
  }
  return undefined;
}

/**
 * The line and column of `pointer` in `text` (JSON or YAML), or undefined when the text does
 * not parse. An empty pointer is the document itself.
 */
export function locatePointer(text: string, pointer: string): SourceLocation | undefined {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, keepSourceTokens: false, uniqueKeys: false });
  if (document.errors.length > 0 || !document.contents) return undefined;
  const root = document.contents as Node;
  const tokens = pointerTokens(pointer).slice(0, POINTER_TOKENS_MAX);
  let node = root;
  let anchor: Node = root;
  let exact = true;
  for (let at = 0; at < tokens.length;) {
    const step = stepInto(root, node, tokens, at);
    if (!step) {
      exact = false;
      break;
    }
    node = step.node;
    anchor = step.anchor;
    at += step.consumed;
  }
  const offset = anchor.range?.[0] ?? 0;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col, exact };
}
