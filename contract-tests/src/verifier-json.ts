// What Pact's verifier reports (its JSON result), read per interaction: the mismatches it found,
// each as "where -> what", or why it did not verify the interaction at all.
import { stripAnsi } from './files.js';

export interface VerifierJson {
  result?: boolean;
  errors?: {
    interaction?: string;
    mismatch?: {
      mismatches?: {
        path?: string;
        key?: string;
        mismatch?: string;
        type?: string;
        expected?: unknown;
        actual?: unknown;
      }[];
      message?: string;
    };
  }[];
  interactionResults?: { description?: string; result?: string }[];
}

export function parseVerifierJson(text: string): VerifierJson | undefined {
  try {
    return JSON.parse(text) as VerifierJson;
  } catch {
    return undefined;
  }
}

/** Does the verifier's name of an interaction ("<provider> - <description>") name this one? */
function names(interaction: string | undefined, description: string): boolean {
  return interaction === description || (interaction ?? '').endsWith(` - ${description}`);
}

/** The problems of one interaction; empty when the verifier reports it verified. */
export function problemsOfInteraction(
  json: VerifierJson | undefined,
  description: string,
  crash: string | undefined,
): string[] {
  const problems: string[] = [];
  for (const error of json?.errors ?? []) {
    if (!names(error.interaction, description)) continue;
    const mismatches = error.mismatch?.mismatches ?? [];
    if (mismatches.length === 0) problems.push(stripAnsi(error.mismatch?.message ?? 'failed'));
    for (const mm of mismatches) {
      const where = mm.path ?? (mm.key !== undefined ? `metadata ${mm.key}` : (mm.type ?? ''));
      const what =
        mm.mismatch ??
        (mm.expected !== undefined
          ? `expected ${JSON.stringify(mm.expected)}, got ${JSON.stringify(mm.actual)}`
          : (mm.type ?? 'mismatch'));
      problems.push(stripAnsi(`${where} -> ${what}`));
    }
  }
  if (crash !== undefined) problems.push(`the Pact verifier did not run: ${crash}`);
  const outcome = json?.interactionResults?.find((r) => r.description === description);
  if (problems.length === 0 && outcome !== undefined && outcome.result?.toLowerCase() !== 'ok') {
    problems.push(`Pact reports ${outcome.result ?? 'no result'}`);
  }
  if (problems.length === 0 && outcome === undefined) problems.push('Pact did not verify it');
  return problems;
}
