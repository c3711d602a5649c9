// What the console shows when a service refuses: its problem+json answer, in one line.

/**
 * A problem+json answer (RFC 9457) in one line: the status, title and detail, and the first
 * error it names (`line 3: …`, `/amountMinor: …`); the status alone when there is no problem.
 */
export function problemLine(error: unknown, status: number): string {
  if (typeof error !== 'object' || error === null) return `HTTP ${status}`;
  const p = error as {
    title?: unknown;
    detail?: unknown;
    errors?: { message?: unknown; line?: unknown; pointer?: unknown }[];
  };
  const text = [p.title, p.detail].filter((s): s is string => typeof s === 'string' && s !== '');
  const first = p.errors?.[0];
  const where =
    typeof first?.line === 'number'
      ? `line ${first.line}: `
      : typeof first?.pointer === 'string'
        ? `${first.pointer}: `
        : '';
  const named = typeof first?.message === 'string' ? ` (${where}${first.message})` : '';
  return text.length === 0 ? `HTTP ${status}${named}` : `${status} ${text.join(': ')}${named}`;
}
