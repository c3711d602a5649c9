// Prometheus metrics: one registry per service process, default process metrics included.
import client from 'prom-client';

export type MetricsRegistry = client.Registry;
export { client as prometheus };

export function createMetricsRegistry(service: string): client.Registry {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
  return registry;
}
