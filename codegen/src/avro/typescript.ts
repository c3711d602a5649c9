// Avro → TypeScript: each type is exactly what avsc decodes with the runtime options in
// @ledgerline/platform/avro (logical types, union wrapping, long as number).
import type { AvroCatalogue, AvroJson, AvroJsonObject, NamedTypeDefinition } from './schema.js';
import { ContractError } from '../errors.js';

type Mode = 'decoded' | 'input';

const NUMERIC = new Set(['int', 'long', 'float', 'double']);

export function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}

function docComment(doc: unknown, indent: string): string {
  if (typeof doc !== 'string' || doc.trim() === '') return '';
  const lines = doc.trim().replace(/\*\//g, '* /').split('\n');
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

export class TypeScriptEmitter {
  constructor(private readonly catalogue: AvroCatalogue) {
    const seen = new Map<string, string>();
    for (const name of catalogue.types.keys()) {
      const short = shortName(name);
      const other = seen.get(short);
      if (other) {
        const def = catalogue.types.get(name) as NamedTypeDefinition;
        throw new ContractError(
          def.file,
          def.pointer,
          `${name} and ${other} share the TypeScript name ${short}`,
        );
      }
      seen.set(short, name);
    }
  }

  private definition(fullName: string): NamedTypeDefinition {
    const def = this.catalogue.types.get(fullName);
    if (!def) throw new Error(`unknown Avro type ${fullName}`);
    return def;
  }

  /** The avsc "bucket" of a branch, used to decide whether a union is wrapped. */
  private bucket(node: AvroJson): string | undefined {
    if (typeof node === 'string') {
      if (NUMERIC.has(node)) return 'number';
      if (node === 'bytes') return 'buffer';
      if (['null', 'boolean', 'string'].includes(node)) return node;
      const kind = this.definition(node).kind;
      return kind === 'enum' ? 'string' : kind === 'fixed' ? 'buffer' : 'object';
    }
    if (Array.isArray(node)) return 'union';
    if (typeof node['logicalType'] === 'string' && this.logicalTsType(node) !== undefined) {
      return undefined; // avsc skips logical types when it looks for ambiguity.
    }
    if (node.type === 'array') return 'array';
    if (node.type === 'map') return 'object';
    return this.bucket(node.type);
  }

  /** avsc's wrapUnions 'auto': wrap only when two branches fall in the same bucket. */
  isWrappedUnion(branches: AvroJson[]): boolean {
    const seen = new Set<string>();
    for (const branch of branches) {
      const b = this.bucket(branch);
      if (b === undefined) continue;
      if (seen.has(b)) return true;
      seen.add(b);
    }
    return false;
  }

  private logicalTsType(node: AvroJsonObject): string | undefined {
    if (node['logicalType'] === 'timestamp-millis' && node.type === 'long') return 'Date';
    if (node['logicalType'] === 'uuid' && node.type === 'string') return 'string';
    return undefined; // Unknown logical types decode as their underlying type.
  }

  private branchName(node: AvroJson): string {
    if (typeof node === 'string') return node;
    if (Array.isArray(node)) throw new Error('a union cannot contain a union');
    if (node.type === 'array' || node.type === 'map') return node.type;
    return this.branchName(node.type);
  }

  tsType(node: AvroJson, mode: Mode): string {
    if (typeof node === 'string') {
      switch (node) {
        case 'null':
          return 'null';
        case 'boolean':
          return 'boolean';
        case 'int':
        case 'long':
        case 'float':
        case 'double':
          return 'number';
        case 'bytes':
          return 'Buffer';
        case 'string':
          return 'string';
        default: {
          const def = this.definition(node);
          const name = shortName(node);
          if (def.kind === 'fixed') return 'Buffer';
          return mode === 'input' && (def.kind === 'record' || def.kind === 'error')
            ? `${name}Input`
            : name;
        }
      }
    }
    if (Array.isArray(node)) {
      const wrapped = this.isWrappedUnion(node);
      return node
        .map((branch) => {
          const t = this.tsType(branch, mode);
          if (!wrapped || branch === 'null') return t;
          return `{ '${this.branchName(branch)}': ${t} }`;
        })
        .join(' | ');
    }
    const logical = this.logicalTsType(node);
    if (logical) return logical;
    if (node.type === 'array') return `Array<${this.tsType(node['items'] as AvroJson, mode)}>`;
    if (node.type === 'map')
      return `Record<string, ${this.tsType(node['values'] as AvroJson, mode)}>`;
    return this.tsType(node.type, mode);
  }

  /** TypeScript declarations for one named type. */
  declaration(fullName: string): string {
    const def = this.definition(fullName);
    const name = shortName(fullName);
    const schema = def.schema;
    let out = docComment(schema['doc'], '');
    if (def.kind === 'enum') {
      const symbols = schema['symbols'] as string[];
      out += `export type ${name} = ${symbols.map((s) => `'${s}'`).join(' | ')};\n`;
      out += `export const ${name}Symbols = [${symbols.map((s) => `'${s}'`).join(', ')}] as const;\n`;
      return out;
    }
    if (def.kind === 'fixed') {
      return `${out}export type ${name} = Buffer;\n`;
    }
    const fields = schema['fields'] as AvroJsonObject[];
    const body = (mode: Mode) =>
      fields
        .map((f) => {
          const optional = mode === 'input' && 'default' in f ? '?' : '';
          return `${docComment(f['doc'], '  ')}  ${String(f['name'])}${optional}: ${this.tsType(f.type, mode)};\n`;
        })
        .join('');
    out += `export interface ${name} {\n${body('decoded')}}\n`;
    out += `\n/** What a producer may pass for {@link ${name}}: fields with a default are optional. */\n`;
    out += `export interface ${name}Input {\n${body('input')}}\n`;
    return out;
  }
}
