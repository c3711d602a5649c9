// The operator console's server: it serves the single-page app (built from console/web with
// esbuild when the server starts) and forwards the app's calls to the platform's own HTTP APIs
// under /api/<service>/, with the caller's credential, so the browser talks to one origin and
// every decision stays with the services' edges. Its own endpoints are the contract catalogue
// and the "what would break" check, for any caller the processor recognises.
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import express, { type NextFunction, type Request, type Response } from 'express';
import { REPO_ROOT } from '@ledgerline/platform/config';
import {
  answerClientError,
  refuseRepeatedSingletonFields,
  refuseUnservedVersionOrHost,
} from '@ledgerline/platform/http/app';
import { createLogger, type Logger } from '@ledgerline/platform/log';
import { registryConnection, registryRequest } from '@ledgerline/platform/transport-security';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import { buildCatalogue, checkProposedSchema } from './catalogue.js';
import { createValueDecoder } from './decode.js';
import { CONSOLE_SERVICES, type ConsoleConfig, type ConsoleService } from './config.js';
import type { Catalogue } from '../web/lib/model.js';

type Caller = components['schemas']['Caller'];

export interface RunningConsole {
  readonly url: string;
  /** Bytes of the app as served (JavaScript and CSS), and gzipped. */
  readonly bundle: { bytes: number; gzipBytes: number };
  stop(): Promise<void>;
}

/** Largest request body forwarded (a bank statement CSV is the largest the app sends). */
const FORWARD_BODY_BYTES_MAX = 4 * 1024 * 1024;
const UPSTREAM_TIMEOUT_MS = 30_000;
/** Service paths the app may reach: the APIs and the probes. */
const FORWARDED_PATH = /^\/(v1\/[^?#]*|readyz|healthz|metrics)$/;
const REQUEST_HEADERS = ['authorization', 'content-type', 'accept', 'idempotency-key'];
const RESPONSE_HEADERS = ['content-type', 'retry-after', 'location', 'www-authenticate'];

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // Everything comes from this origin: no CDN, no inline script, nothing framed.
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

interface Bundle {
  js: Buffer;
  css: Buffer;
}

/** The app, bundled and minified in memory (esbuild: about a second, no build step to forget). */
async function bundleApp(): Promise<Bundle> {
  const result = await build({
    entryPoints: [path.join(REPO_ROOT, 'console', 'web', 'main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: 'console-assets',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const file = (ext: string) =>
    Buffer.from(result.outputFiles.find((f) => f.path.endsWith(ext))?.contents ?? new Uint8Array());
  return { js: file('.js'), css: file('.css') };
}

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ledgerline console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/console.css">
<script type="module" src="/assets/console.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;

/** The service URL a forwarded request goes to; undefined when it would leave the service. */
export function forwardedUrl(base: string, requestUrl: string): URL | undefined {
  let target: URL;
  try {
    target = new URL(`${base}${requestUrl}`);
  } catch {
    return undefined;
  }
  const origin = new URL(base);
  return target.origin === origin.origin && !/%2e|\.\./i.test(target.pathname) ? target : undefined;
}

function problem(res: Response, status: number, title: string, detail: string): void {
  res
    .status(status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

async function readRawBody(req: Request): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORWARD_BODY_BYTES_MAX) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function startConsole(
  config: ConsoleConfig,
  log: Logger = createLogger('console'),
): Promise<RunningConsole> {
  const bundle = await bundleApp();
  let catalogue: Promise<Catalogue> | undefined;
  // Built once: with TLS settings it reads the CA and client certificate files, and its agent
  // keeps connections to the registry open across requests.
  const registry = registryConnection(config.schemaRegistryUrl, config.registryEnv);

  /** Who the credential of this request is, as the processor's edge says; relays its refusal. */
  async function caller(req: Request, res: Response): Promise<Caller | undefined> {
    const authorization = req.headers.authorization;
    if (authorization === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="ledgerline"');
      problem(res, 401, 'Authentication required', 'Send Authorization: Bearer with an API key.');
      return undefined;
    }
    let answer: globalThis.Response;
    try {
      answer = await fetch(`${config.services.processor}/v1/caller`, {
        headers: { authorization },
        signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
      });
    } catch (error) {
      log.warn({ err: error }, 'console: the processor did not say who the caller is');
      res.setHeader('Retry-After', '5');
      problem(res, 502, 'Service unavailable', 'The processor did not answer who the caller is.');
      return undefined;
    }
    if (answer.status === 200) return (await answer.json()) as Caller;
    for (const header of RESPONSE_HEADERS) {
      const value = answer.headers.get(header);
      if (value !== null) res.setHeader(header, value);
    }
    res.status(answer.status).send(Buffer.from(await answer.arrayBuffer()));
    return undefined;
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    next();
  });
  // The console forwards one value of each header; a request with two credentials or two media
  // types is refused here with the services' own answer, not narrowed to the first.
  app.use(refuseRepeatedSingletonFields);

  app.get(['/', '/index.html'], (_req, res) => void res.type('html').send(INDEX_HTML));
  // Liveness for a container's health check; the services' readiness is the platform page's.
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/assets/console.js', (_req, res) => void res.type('text/javascript').send(bundle.js));
  app.get('/assets/console.css', (_req, res) => void res.type('text/css').send(bundle.css));

  /** Built once per process (it changes only with the code); a failed build is tried again. */
  const theCatalogue = (): Promise<Catalogue> =>
    (catalogue ??= buildCatalogue(config.topicPrefix).catch((error: unknown) => {
      catalogue = undefined;
      throw error;
    }));

  app.get('/api/catalogue', async (req, res) => {
    if ((await caller(req, res)) === undefined) return;
    res.json(await theCatalogue());
  });

  const knownSubject = async (subject: string) => {
    return (await theCatalogue()).topics.some(
      (t) => t.keySubject === subject || t.valueSubject === subject,
    );
  };

  // Schema versions, straight from the registry's Confluent API, for the catalogue's subjects.
  app.get(
    [
      '/api/registry/subjects/:subject/versions',
      '/api/registry/subjects/:subject/versions/:version',
    ],
    async (req, res) => {
      const { subject, version } = req.params as { subject: string; version?: string };
      if (version !== undefined && !/^[1-9][0-9]{0,5}$/.test(version))
        return problem(res, 400, 'Bad version', 'A version is a positive integer.');
      if ((await caller(req, res)) === undefined) return;
      if (!(await knownSubject(subject)))
        return problem(res, 404, 'Unknown subject', `${subject} is no subject of the contracts.`);
      const answer = await registryRequest(
        registry,
        'GET',
        `/subjects/${encodeURIComponent(subject)}/versions${version === undefined ? '' : `/${version}`}`,
        { timeoutMs: UPSTREAM_TIMEOUT_MS },
      );
      res.status(answer.status).type('application/json').send(answer.text);
    },
  );

  app.post('/api/compatibility', express.json({ limit: '1mb' }), async (req, res) => {
    const body = req.body as { subject?: unknown; schema?: unknown } | undefined;
    if (typeof body?.subject !== 'string' || typeof body.schema !== 'string')
      return problem(res, 400, 'Bad request', 'Send {"subject": string, "schema": string}.');
    if ((await caller(req, res)) === undefined) return;
    if (!(await knownSubject(body.subject)))
      return problem(
        res,
        404,
        'Unknown subject',
        `${body.subject} is no subject of the contracts.`,
      );
    res.json(await checkProposedSchema(registry, body.subject, body.schema));
  });

  // A dead letter's original value, decoded with its writer's schema (the platform screen).
  const decode = createValueDecoder(registry);
  app.post('/api/decode', express.json({ limit: '2mb' }), async (req, res) => {
    const body = req.body as { value?: unknown } | undefined;
    if (typeof body?.value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(body.value))
      return problem(res, 400, 'Bad request', 'Send {"value": base64}.');
    const who = await caller(req, res);
    if (who === undefined) return;
    if (!who.scopes.includes('audit:read'))
      return problem(res, 403, 'Insufficient scope', 'Dead letters are read with audit:read.');
    res.json(await decode(body.value));
  });

  for (const service of CONSOLE_SERVICES) app.use(`/api/${service}`, forwardTo(service));

  function forwardTo(service: ConsoleService) {
    const base = config.services[service];
    return async (req: Request, res: Response) => {
      // Judge the path the service will see: the URL parser resolves `..`, `%2e%2e` and `\`.
      const target = forwardedUrl(base, req.url);
      const pathname = target?.pathname ?? '';
      if (target === undefined || !FORWARDED_PATH.test(pathname))
        return problem(res, 404, 'Not found', `${service} has no such path the console serves.`);
      const body =
        req.method === 'GET' || req.method === 'HEAD' ? undefined : await readRawBody(req);
      if (body === 'too-large')
        return problem(
          res,
          413,
          'Payload too large',
          `The console forwards at most ${FORWARD_BODY_BYTES_MAX} bytes.`,
        );
      const headers: Record<string, string> = {};
      for (const name of REQUEST_HEADERS) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      let answer: globalThis.Response;
      try {
        answer = await fetch(target, {
          method: req.method,
          headers,
          ...(body === undefined ? {} : { body }),
          redirect: 'manual',
          signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
        });
      } catch (error) {
        log.warn({ service, err: error }, 'console: a service did not answer');
        res.setHeader('Retry-After', '5');
        return problem(res, 502, 'Service unavailable', `The ${service} service did not answer.`);
      }
      for (const name of RESPONSE_HEADERS) {
        const value = answer.headers.get(name);
        if (value !== null) res.setHeader(name, value);
      }
      res.status(answer.status).send(Buffer.from(await answer.arrayBuffer()));
    };
  }

  app.use((_req, res) => problem(res, 404, 'Not found', 'The console has no such page or API.'));

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // Express's and the body parser's refusals (malformed JSON or URL 400, too large 413) are
    // the client's to fix: said as such, not as the console's failure.
    const { status, type } = error as { status?: unknown; type?: unknown };
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const detail =
        status === 413
          ? 'The body is too large.'
          : type === 'entity.parse.failed'
            ? 'The body is not valid JSON.'
            : 'The request is malformed.';
      return problem(res, status, status === 413 ? 'Payload too large' : 'Bad request', detail);
    }
    log.error({ err: error }, 'console: request failed');
    if (!res.headersSent) problem(res, 500, 'Internal error', 'The console could not answer.');
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const listening = createServer({ requireHostHeader: false }, (req, res) => {
      if (!refuseUnservedVersionOrHost(req, res)) void app(req, res);
    });
    listening.once('error', reject);
    listening.listen(config.port, config.host, () => resolve(listening));
  });
  // What Node's parser refuses (a control character in a header, headers too large) gets a
  // problem+json answer here too, as from every service.
  server.on('clientError', answerClientError);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const assets = Buffer.concat([bundle.js, bundle.css]);
  return {
    url: `http://${config.host}:${port}`,
    bundle: { bytes: assets.length, gzipBytes: gzipSync(assets).length },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
