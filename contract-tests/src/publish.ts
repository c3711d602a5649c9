// npm run pact:publish: every pact in pacts/ to the Pact Broker under this commit's version
// and branch, then the provider verification results recorded at this commit (only those whose
// pact and provider-code hashes still match, i.e. verified at HEAD), so the broker's
// can-i-deploy answers the same as `npm run pact:matrix`.
import { applicationVersion, branch, brokerRequest, brokerUrl } from './broker.js';
import { loadPacts, PACT_DIR, providerHash } from './files.js';
import { loadVerification } from './matrix.js';

export interface PublishOptions {
  readonly version: string;
  readonly branch: string;
  readonly pactDir?: string;
  readonly log?: (line: string) => void;
}

export async function publishPacts(options: PublishOptions): Promise<void> {
  const { version } = options;
  const log = options.log ?? (() => undefined);
  const pacticipants = new Set<string>();
  log(`publishing to ${brokerUrl()} as version ${version} (branch ${options.branch})`);
  for (const { pact, hash } of loadPacts(options.pactDir ?? PACT_DIR)) {
    const consumer = pact.consumer.name;
    const provider = pact.provider.name;
    const published = await brokerRequest(
      'PUT',
      `/pacts/provider/${encodeURIComponent(provider)}/consumer/${encodeURIComponent(consumer)}` +
        `/version/${encodeURIComponent(version)}`,
      pact,
    );
    pacticipants.add(consumer);
    log(`  pact ${consumer} -> ${provider}`);
    const record = loadVerification(provider);
    const pactRecord = record?.pacts.find((p) => p.consumer === consumer);
    const current =
      record !== undefined &&
      pactRecord !== undefined &&
      pactRecord.pactHash === hash &&
      record.providerHash === providerHash(provider);
    const resultsLink = (published['_links'] as Record<string, { href?: string }> | undefined)?.[
      'pb:publish-verification-results'
    ]?.href;
    if (!current || pactRecord === undefined || resultsLink === undefined) {
      log(`    no verification by ${provider} at this commit: no result published`);
      continue;
    }
    const success = pactRecord.interactions.every((i) => i.verified);
    await brokerRequest('POST', resultsLink, {
      success,
      providerApplicationVersion: version,
      verifiedBy: { implementation: 'ledgerline contract-tests', version: '1' },
      testResults: pactRecord.interactions.map((i) => ({
        interactionDescription: i.description,
        success: i.verified,
        ...(i.verified ? {} : { mismatches: i.problems.map((p) => ({ description: p })) }),
      })),
    });
    pacticipants.add(provider);
    log(`    verified by ${provider}: ${success ? 'success' : 'FAILED'}`);
  }
  for (const name of [...pacticipants].sort()) {
    await brokerRequest(
      'PUT',
      `/pacticipants/${encodeURIComponent(name)}/branches/${encodeURIComponent(options.branch)}` +
        `/versions/${encodeURIComponent(version)}`,
      {},
    );
  }
  log(`done: ${brokerUrl()}/matrix`);
}

if (process.argv[1]?.endsWith('publish.ts')) {
  await publishPacts({
    version: applicationVersion(),
    branch: branch(),
    log: (line) => console.log(line),
  }).catch((error: unknown) => {
    console.error(`pact:publish failed: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
