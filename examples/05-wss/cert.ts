import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the certificate lives: `CERT_FILE`, else `localhost.pem` next to this file (as in the seed). */
export function certFile(): string {
  return process.env.CERT_FILE ?? join(dirname(fileURLToPath(import.meta.url)), 'localhost.pem');
}

/**
 * Returns the PEM (private key + self-signed certificate for `localhost`, 127.0.0.1 and ::1, in
 * one file like the seed's `localhost.pem`), creating it with `openssl` when missing.
 */
export function ensureCertificate(file = certFile()): Buffer {
  if (!existsSync(file)) {
    const dir = mkdtempSync(join(tmpdir(), 'fullduplex-cert-'));
    try {
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      execFileSync(
        'openssl',
        [
          'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
          '-keyout', key, '-out', cert, '-days', '825', '-subj', '/CN=localhost',
          '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const combined = join(dir, 'localhost.pem');
      writeFileSync(combined, Buffer.concat([readFileSync(key), readFileSync(cert)]), { mode: 0o600 });
      // Atomic: a concurrent run sees either no file or a complete one.
      renameSync(combined, file);
      console.log(`created a self-signed certificate for localhost in ${file}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return readFileSync(file);
}
