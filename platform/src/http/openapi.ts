// OpenAPI documents as data: the generator emits them, providers validate against them.
export type OpenApiDocument = Record<string, unknown>;

export interface OpenApiOperation {
  operationId: string;
  method: string;
  /** OpenAPI path template, e.g. /v1/payments/{paymentId}. */
  path: string;
}
