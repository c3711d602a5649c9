// Builds a valid value for any Ledgerline Avro schema, with edge values where they matter:
// the largest amount avsc carries, real UUIDs, millisecond instants, every optional field set.
import { randomUUID } from 'node:crypto';
import { AVRO_LONG_SAFE_MAX } from '@ledgerline/platform/avro';

type Node = string | Node[] | { [key: string]: unknown; type: Node };

export function sampleValue(schema: unknown): unknown {
  const named = new Map<string, Record<string, unknown>>();
  const visit = (node: Node, fieldName: string): unknown => {
    if (typeof node === 'string') {
      switch (node) {
        case 'null':
          return null;
        case 'boolean':
          return true;
        case 'int':
          return 2_147_483_647;
        case 'long':
          return /minor/i.test(fieldName) ? AVRO_LONG_SAFE_MAX : 42;
        case 'float':
        case 'double':
          return 0.5;
        case 'bytes':
          return Buffer.from([0, 1, 2, 255]);
        case 'string':
          return /currency/i.test(fieldName) ? 'EUR' : `${fieldName}-é✓`;
        default: {
          const def = named.get(node);
          if (!def) throw new Error(`unknown named type ${node}`);
          return visit(def as Node, fieldName);
        }
      }
    }
    if (Array.isArray(node)) {
      const branches = node.filter((b) => b !== 'null');
      const branch = branches[0] as Node;
      const value = visit(branch, fieldName);
      // Unions of several non-null branches are wrapped by name (avsc wrapUnions 'auto').
      if (branches.length > 1) {
        const name =
          typeof branch === 'string' ? branch : String((branch as { name?: unknown }).name);
        return { [name]: value };
      }
      return value;
    }
    if (node['logicalType'] === 'uuid') return randomUUID();
    if (node['logicalType'] === 'timestamp-millis') return new Date(1_764_000_000_123);
    if (typeof node['name'] === 'string') named.set(node['name'], node);
    switch (node.type) {
      case 'record':
        return Object.fromEntries(
          (node['fields'] as { name: string; type: Node }[]).map((f) => [
            f.name,
            visit(f.type, f.name),
          ]),
        );
      case 'enum':
        return (node['symbols'] as string[])[0];
      case 'fixed':
        return Buffer.alloc(node['size'] as number, 7);
      case 'array':
        return [visit(node['items'] as Node, fieldName), visit(node['items'] as Node, fieldName)];
      case 'map':
        return {
          a: visit(node['values'] as Node, fieldName),
          'b/c': visit(node['values'] as Node, fieldName),
        };
      default:
        return visit(node.type, fieldName);
    }
  };
  return visit(schema as Node, 'value');
}
