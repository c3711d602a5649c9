// Every enum, union branch and constant that a contract defines reaches the services through
// generated/: a hand-written copy of a contract's list drifts (the ledger once answered OTHER
// where the contract says BALANCE_NOT_ZERO, because its copy of RejectionReason missed it).
// This scan finds, in services' production code, any literal list of strings that is (all but
// at most two symbols of) a contract enum, Avro or OpenAPI.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '@ledgerline/stack/paths';

interface ContractEnum {
  name: string;
  symbols: readonly string[];
}

function avroEnums(): ContractEnum[] {
  const dir = join(REPO_ROOT, 'contracts', 'avro');
  const found: ContractEnum[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record['type'] === 'enum' && Array.isArray(record['symbols'])) {
      found.push({
        name: `Avro ${String(record['name'])}`,
        symbols: record['symbols'] as string[],
      });
    }
    Object.values(record).forEach(visit);
  };
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.avsc'))) {
    visit(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  }
  return found;
}

function openApiEnums(): ContractEnum[] {
  const dir = join(REPO_ROOT, 'contracts', 'openapi');
  const found: ContractEnum[] = [];
  const visit = (node: unknown, where: string): void => {
    if (Array.isArray(node)) node.forEach((item, i) => visit(item, `${where}/${i}`));
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    const symbols = record['enum'];
    if (Array.isArray(symbols) && symbols.every((s) => typeof s === 'string')) {
      found.push({ name: `OpenAPI ${where}`, symbols: symbols as string[] });
    }
    for (const [key, value] of Object.entries(record)) visit(value, `${where}/${key}`);
  };
  for (const file of readdirSync(dir).filter((name) => /\.ya?ml$/.test(name))) {
    visit(parse(readFileSync(join(dir, file), 'utf8')), file);
  }
  return found;
}

function productionSources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry === 'test' || entry === 'bench') continue;
    if (statSync(path).isDirectory()) files.push(...productionSources(path));
    else if (path.endsWith('.ts')) files.push(path);
  }
  return files;
}

/** Literal lists of three or more quoted SCREAMING_CASE strings, comments removed. */
export function literalLists(source: string): string[][] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const lists: string[][] = [];
  for (const match of code.matchAll(/\[\s*((?:(['"])[A-Z][A-Z0-9_]*\2\s*,?\s*){3,})\]/g)) {
    lists.push([...(match[1] ?? '').matchAll(/['"]([A-Z][A-Z0-9_]*)['"]/g)].map((m) => m[1] ?? ''));
  }
  return lists;
}

export function copiesOf(list: readonly string[], contractEnum: ContractEnum): boolean {
  const symbols = new Set(contractEnum.symbols);
  return list.every((item) => symbols.has(item)) && list.length >= symbols.size - 2;
}

describe('contract names in the services', () => {
  const enums = [...avroEnums(), ...openApiEnums()].filter((e) => e.symbols.length >= 3);

  test('the scan recognises a hand-written copy, a drifted one, and leaves other lists alone', () => {
    const reasons = enums.find((e) => e.name === 'Avro RejectionReason');
    if (!reasons) throw new Error('contracts/avro has no RejectionReason enum');
    const drifted = reasons.symbols.filter((s) => s !== 'BALANCE_NOT_ZERO');
    const source = `const a = [${drifted.map((s) => `'${s}'`).join(', ')}] as const;
      // ['NOT', 'A', 'LIST'] in a comment
      const b = ['SELECT', 'INSERT', 'UPDATE'];`;
    const lists = literalLists(source);
    expect(lists).toHaveLength(2);
    expect(copiesOf(lists[0] as string[], reasons)).toBe(true);
    expect(copiesOf(lists[1] as string[], reasons)).toBe(false);
  });

  test('no service copies a contract enum by hand: it imports it from generated/', () => {
    const copies: string[] = [];
    for (const file of productionSources(join(REPO_ROOT, 'services'))) {
      for (const list of literalLists(readFileSync(file, 'utf8'))) {
        for (const contractEnum of enums.filter((e) => copiesOf(list, e))) {
          copies.push(
            `${relative(REPO_ROOT, file)}: [${list.join(', ')}] copies ${contractEnum.name}`,
          );
        }
      }
    }
    expect(copies).toEqual([]);
  });
});
