import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { SecondaryCertsError } from '../../../errors.js';
import { certificateCovers, leafNames } from '../../../pki/identity.js';
import { CertificatePolicy, type AcceptedCertificate } from '../../../pki/policy.js';
import { DRAFT, type CertificateRecord, type CheckReport } from '../report.js';

/**
 * The certificate policy (built on first use: the system's anchors take a while to parse, and a server
 * without the extension needs none), and the chains judged so far, for origin coverage. With `insecure`,
 * chains are only recorded.
 */
export class CertificateJudge {
  readonly insecure: boolean;
  private policy: CertificatePolicy | undefined;
  private readonly accepted: AcceptedCertificate[] = [];
  private readonly recorded: X509Certificate[] = [];

  constructor(
    private readonly options: { ca?: string | string[]; insecure?: boolean },
    /** The TLS certificate of the connection, asked for when coverage is. */
    private readonly tlsLeaf: () => X509Certificate | undefined,
  ) {
    this.insecure = options.insecure ?? false;
  }

  async judge(chain: Uint8Array[]): Promise<'recorded' | { accepted: true; cert: AcceptedCertificate } | { accepted: false; reason: string }> {
    if (this.insecure) {
      try {
        this.recorded.push(new X509Certificate(chain[0] as Uint8Array));
      } catch {
        // An undecodable leaf covers nothing.
      }
      return 'recorded';
    }
    this.policy ??= new CertificatePolicy({ trustAnchors: this.options.ca ? ([] as string[]).concat(this.options.ca) : [...rootCertificates], role: 'server' });
    try {
      const cert = await this.policy.check(chain);
      this.accepted.push(cert);
      return { accepted: true, cert };
    } catch (e) {
      if (!(e instanceof SecondaryCertsError)) throw e;
      return { accepted: false, reason: `${e.code}: ${e.message}` };
    }
  }

  /** For OPTIONS *: accepted, and covering the host asked for. */
  async judgeFor(chain: Uint8Array[], host: string): Promise<{ accepted: boolean; covers: boolean; names: string[]; reason?: string }> {
    const v = await this.judge(chain);
    if (v === 'recorded') return { accepted: false, covers: false, names: leafNames(chain[0]), reason: 'recorded only' };
    if (!v.accepted) return { accepted: false, covers: false, names: leafNames(chain[0]), reason: v.reason };
    return { accepted: true, covers: v.cert.covers(host), names: v.cert.dnsNames.concat(v.cert.ipAddresses) };
  }

  coveredBy(host: string): 'tls' | 'secondary' | undefined {
    const tlsCert = this.tlsLeaf();
    if (tlsCert && certificateCovers(tlsCert, host)) return 'tls';
    if (this.accepted.some((c) => c.covers(host)) || this.recorded.some((c) => certificateCovers(c, host))) return 'secondary';
    return undefined;
  }

  /**
   * Judges the chain of a SERVER_CERTIFICATE that validated, notes the outcome on `record`, and adds the
   * `ID.certificate` check (skipped under `insecure`).
   */
  async judgeInto(checks: CheckReport['checks'], record: CertificateRecord, chain: Uint8Array[], id: string, where: string): Promise<void> {
    const title = `certificate acceptable (trust, dates, usage) ${where}`;
    const verdict = await this.judge(chain);
    if (verdict === 'recorded') {
      checks.push({ id: `${id}.certificate`, section: `${DRAFT} §6.2`, title, status: 'skip', detail: `--insecure: chain recorded only (${record.names.join(', ')})` });
      return;
    }
    record.accepted = verdict.accepted;
    if (!verdict.accepted) record.reason = verdict.reason;
    checks.push({
      id: `${id}.certificate`,
      section: `${DRAFT} §6.2`,
      title,
      status: verdict.accepted ? 'pass' : 'fail',
      detail: verdict.accepted ? `accepted: ${record.names.join(', ')}` : `not accepted (a client ignores it; not a protocol error): ${verdict.reason}`,
    });
  }
}
