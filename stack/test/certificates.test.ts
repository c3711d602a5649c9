// The development certificates are DER that OpenSSL accepts, whatever their random serial: a
// serial whose first bytes are 0x00 followed by a byte under 0x80 must be written in the short
// form, or OpenSSL refuses the certificate ("illegal padding"), about once in 256.
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, issueServerCertificate } from '../src/certificates.js';

/** Enough for a 1-in-256 encoding fault to show with a probability above 99.9 %. */
const CERTIFICATES = 2_000;

test('every certificate OpenSSL reads, verifies against its CA, and names its host', () => {
  const ca = createCertificateAuthority('certificates test CA');
  const authority = new X509Certificate(ca.certificatePem);
  expect(authority.ca).toBe(true);
  const serials = new Set<string>();
  for (let i = 0; i < CERTIFICATES; i += 1) {
    const issued = issueServerCertificate(ca, { commonName: 'localhost', hosts: ['127.0.0.1'] });
    const certificate = new X509Certificate(issued.certificatePem);
    expect(certificate.verify(authority.publicKey)).toBe(true);
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    serials.add(certificate.serialNumber);
  }
  expect(serials.size).toBe(CERTIFICATES);
});
