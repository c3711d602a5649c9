// Which operation of a service's OpenAPI document a request names: a concrete path
// (`/v1/payments/3f2b…`) or a template (`/v1/payments/{paymentId}`, as a client call writes it).
import type { OpenApiOperation } from '@ledgerline/platform/http/openapi';
import { apiContracts } from '@ledgerline/generated/openapi/contracts';

export interface NamedOperation {
  readonly operation: OpenApiOperation;
  /** The path parameters a concrete path gives (a template gives its own names back). */
  readonly params: Record<string, string>;
}

export function operationOf(
  provider: string,
  method: string,
  path: string,
): NamedOperation | undefined {
  const operations = apiContracts.find((c) => c.service === provider)?.operations ?? [];
  for (const operation of operations) {
    if (operation.method.toUpperCase() !== method.toUpperCase()) continue;
    if (operation.path === path) return { operation, params: {} };
    const names: string[] = [];
    const pattern = operation.path
      .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
      .replace(/\\?\{([^}]+)\\?\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
    const match = new RegExp(`^${pattern}$`).exec(path);
    if (match) {
      return {
        operation,
        params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)])),
      };
    }
  }
  return undefined;
}
