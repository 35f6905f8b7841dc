import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SwitchboardError } from '../src/errors/index.js';
import { STACK_DIR } from './paths.js';

const run = promisify(execFile);

/**
 * The certificate of livekit-server's embedded TURN/TLS listener in the local stack. livekit-server
 * refuses to start a TURN/TLS listener without a domain and a certificate for it, and browsers
 * check that certificate like any HTTPS server's, so the stack makes its own: a local CA and a
 * leaf for {@link TURN_DOMAIN}, signed by it, with openssl (a Debian package; nothing is
 * downloaded). They are made once into `.stack/turn/` and reused until the leaf nears its expiry.
 *
 * Nothing on the machine trusts the CA. A test's Chromium trusts exactly this leaf by its public
 * key (`--ignore-certificate-errors-spki-list`, {@link TurnCertificate.spkiSha256}); a person who
 * wants a host browser to use TURN/TLS imports `ca.crt` into it.
 */

/** The TURN domain of the local stack (`turn.domain` in livekit.yaml). `.test` never resolves in public DNS. */
export const TURN_DOMAIN = 'turn.switchboard.test';

/** Where the stack keeps the CA and the leaf. */
export const TURN_DIR = join(STACK_DIR, 'turn');

export interface TurnCertificate {
  domain: string;
  /** The local CA (PEM). Import it into a browser to trust the TURN server by name. */
  caCertFile: string;
  /** The leaf followed by the CA (PEM): livekit-server's `--turn-cert` (turn.cert_file). */
  certFile: string;
  /** The leaf's private key (PEM, mode 0600): livekit-server's `--turn-key` (turn.key_file). */
  keyFile: string;
  /** base64 SHA-256 of the leaf's SubjectPublicKeyInfo, as Chromium's SPKI allow-list takes it. */
  spkiSha256: string;
  /** When the leaf expires. */
  validTo: Date;
}

/** The files in `dir`; they exist once {@link ensureTurnCertificate} has run. */
export function turnCertificateFiles(dir = TURN_DIR) {
  return {
    caCertFile: join(dir, 'ca.crt'),
    caKeyFile: join(dir, 'ca.key'),
    certFile: join(dir, 'turn.crt'),
    keyFile: join(dir, 'turn.key'),
  };
}

/** Unit: days. A new leaf is made once the current one has fewer days left than this. */
const RENEW_BEFORE_DAYS = 30;
/** Unit: days. Under Chromium's 398-day limit, which applies to publicly trusted leaves only. */
const LEAF_DAYS = 397;
/** Unit: days. */
const CA_DAYS = 3650;

/**
 * Makes the CA and the leaf for `domain` in `dir` unless a usable pair is there already (present,
 * for this domain, signed by that CA, matching its key, more than 30 days left). Call it before
 * livekit-server starts; it is cheap when nothing needs doing. A new pair is written into a
 * scratch folder and renamed into place, so an interrupted run never leaves half a pair.
 */
export async function ensureTurnCertificate(
  dir = TURN_DIR,
  domain = TURN_DOMAIN,
): Promise<TurnCertificate> {
  const existing = await readUsable(dir, domain, RENEW_BEFORE_DAYS);
  if (existing !== undefined) return existing;
  await mkdir(dir, { recursive: true });
  const scratch = await mkdtemp(join(dir, '.new-'));
  try {
    await generate(scratch, domain);
    const from = turnCertificateFiles(scratch);
    const to = turnCertificateFiles(dir);
    // The key before the certificate: a reader that sees the new certificate also sees its key.
    for (const name of ['caKeyFile', 'caCertFile', 'keyFile', 'certFile'] as const)
      await rename(from[name], to[name]);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const made = await readUsable(dir, domain, RENEW_BEFORE_DAYS);
  if (made === undefined)
    throw new SwitchboardError(
      'stack_start_failed',
      `openssl made a TURN certificate in ${dir} that does not check out for ${domain}; delete ${dir} and run again`,
    );
  return made;
}

/**
 * The pair the stack made, for a test that must trust exactly what livekit-server serves: never
 * makes one (a new pair would not be the server's). Throws with what to do when there is none.
 */
export async function readTurnCertificate(
  dir = TURN_DIR,
  domain = TURN_DOMAIN,
): Promise<TurnCertificate> {
  const existing = await readUsable(dir, domain, 0);
  if (existing === undefined)
    throw new SwitchboardError(
      'stack_not_running',
      `No usable TURN certificate for ${domain} in ${dir}: the stack makes it (ensureTurnCertificate) before livekit-server starts. Bring the stack up with its turn section (npm run stack -- up).`,
    );
  return existing;
}

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo (DER). */
export function spkiSha256(certificate: X509Certificate): string {
  const der = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/** The pair in `dir` if it is for `domain`, consistent, and valid for more than `daysLeft` days. */
async function readUsable(
  dir: string,
  domain: string,
  daysLeft: number,
): Promise<TurnCertificate | undefined> {
  const files = turnCertificateFiles(dir);
  try {
    const [caPem, chainPem, keyPem] = await Promise.all([
      readFile(files.caCertFile, 'utf8'),
      readFile(files.certFile, 'utf8'),
      readFile(files.keyFile, 'utf8'),
    ]);
    const ca = new X509Certificate(caPem);
    // X509Certificate reads the first certificate of the chain file: the leaf.
    const leaf = new X509Certificate(chainPem);
    const validTo = new Date(leaf.validTo);
    const renewAt = Date.now() + daysLeft * 86_400_000;
    if (leaf.checkHost(domain) === undefined) return undefined;
    if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return undefined;
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    if (validTo.getTime() < renewAt) return undefined;
    return {
      domain,
      caCertFile: files.caCertFile,
      certFile: files.certFile,
      keyFile: files.keyFile,
      spkiSha256: spkiSha256(leaf),
      validTo,
    };
  } catch {
    return undefined;
  }
}

/**
 * P-256 keys; the CA may sign certificates only, the leaf is a TLS server certificate whose
 * subjectAltName carries the domain (browsers ignore the common name). `*.<domain>` is there too,
 * so further LiveKit nodes of a multi-node stack can have a TURN domain of their own
 * (`node2.<domain>`) under the same certificate.
 */
async function generate(dir: string, domain: string): Promise<void> {
  const files = turnCertificateFiles(dir);
  const config = join(dir, 'openssl.cnf');
  await writeFile(
    config,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'O = switchboard local stack',
      `CN = ${domain}`,
      '[ca]',
      'basicConstraints = critical, CA:TRUE, pathlen:0',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '[leaf]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = DNS:${domain}, DNS:*.${domain}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];
  const leafCert = join(dir, 'leaf.crt');
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-config',
      config,
      ...key,
      '-keyout',
      files.caKeyFile,
      '-out',
      files.caCertFile,
      '-days',
      String(CA_DAYS),
      '-subj',
      `/O=switchboard local stack/CN=switchboard local TURN CA`,
      '-extensions',
      'ca',
    ]);
    await run('openssl', [
      'req',
      '-x509',
      '-config',
      config,
      ...key,
      '-keyout',
      files.keyFile,
      '-out',
      leafCert,
      '-days',
      String(LEAF_DAYS),
      '-CA',
      files.caCertFile,
      '-CAkey',
      files.caKeyFile,
      '-extensions',
      'leaf',
    ]);
  } catch (err) {
    throw new SwitchboardError(
      'stack_start_failed',
      `Could not make the TURN certificate with openssl (is the openssl package installed?): ${(err as Error).message}`,
      { cause: err },
    );
  }
  await chmod(files.keyFile, 0o600);
  await chmod(files.caKeyFile, 0o600);
  // The chain a TLS client is sent: the leaf, then the CA that signed it.
  const [leafPem, caPem] = await Promise.all([
    readFile(leafCert, 'utf8'),
    readFile(files.caCertFile, 'utf8'),
  ]);
  await writeFile(files.certFile, leafPem + caPem);
}
