import { readFileSync } from 'node:fs';
import { checkServer } from '../check/h2/check.js';
import { checkH3Server, formatH3Report } from '../check/h3/check.js';
import { EXIT_STATUS, formatReport } from '../check/report.js';
import { checkProfileH2, checkProfileH3, InvalidProfile, parseCodepoint, parseProfileFile, type CodepointFlags, type ProfileGroupsJson } from '../check/profile-file.js';
import type { H2Profile } from '../../h2/profile.js';
import type { H3Profile } from '../../h3/profile.js';
import { parseCommand, usageError, type CommandOptions } from './args.js';

// `secondary-certs check`: the conformance checker as a command. Exit status: 0 the server conforms,
// 1 a check failed, 2 usage error, 3 the server does not support the extension (and broke no rule),
// 4 no TLS 1.3 + h2 connection (QUIC + h3 with --h3) could be made.

export const CHECK_USAGE = `usage: secondary-certs check [--h3] https://HOST[:PORT] [options]
  --h3                  check over HTTP/3 (QUIC, ALPN h3, UDP PORT) instead of HTTP/2; the QUIC handshake
                        always verifies the server's certificate, so --insecure and --options-star do not apply
  --ca FILE             trust anchors (PEM) for the TLS and the secondary certificates (default: the system's)
  --insecure            accept any TLS certificate; record secondary chains without judging them
  --origin ORIGIN       request ORIGIN (https://host[:port] or host) on the same connection (repeatable)
  --options-star ORIGIN ask the server to prove ORIGIN with OPTIONS * (our proposal; repeatable)
  --connect ADDRESS     connect to ADDRESS instead of resolving HOST (HOST stays the SNI and :authority)
  --timeout MS          limit for the handshake, the server's SETTINGS and each request (default 10000)
  --wait MS             quiet time after which the server's certificates count as all sent (default 300)
  --probe               also send, each on a fresh connection, what a server must reject (a client-sent
                        SERVER_CERTIFICATE, well-formed and garbage; the setting = 2 and = 0xffffffff;
                        OPTIONS * with a bad body, HTTP/2 only) and judge how it reacts
  --setting N           SETTINGS_HTTP_SERVER_CERT_AUTH is N (decimal or 0x hex) instead of ours
  --frame-type N        SERVER_CERTIFICATE is frame type N
  --error-code N        SERVER_CERTIFICATE_INVALID is error code N
  --profile FILE        codepoints from a JSON file (docs/check-json.md); the three flags above win over it
  --json                print the report as JSON (schema: docs/check-json.md, schemaVersion 1)
  --verbose             the debug log on stderr (as NODE_DEBUG=secondary-certs)
  -h, --help            this help
exit status: 0 conforms, 1 a check failed, 2 usage error, 3 the server does not support the extension,
             4 the server could not be reached over TLS 1.3 with h2 (with --h3: over QUIC with h3)
`;

function usage(message: string): number {
  return usageError('check', CHECK_USAGE, message);
}

function positiveInt(value: string | undefined, name: string): number | undefined | Error {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : new Error(`${name} must be a positive integer, not ${value}`);
}

/** The options `check` parses besides --help and --verbose. */
export const CHECK_OPTIONS = {
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  origin: { type: 'string', multiple: true },
  'options-star': { type: 'string', multiple: true },
  connect: { type: 'string' },
  timeout: { type: 'string' },
  wait: { type: 'string' },
  json: { type: 'boolean' },
  h3: { type: 'boolean' },
  probe: { type: 'boolean' },
  setting: { type: 'string' },
  'frame-type': { type: 'string' },
  'error-code': { type: 'string' },
  profile: { type: 'string' },
} as const satisfies CommandOptions;

export async function checkCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand('check', argv, CHECK_OPTIONS, CHECK_USAGE, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return usage(positionals.length === 0 ? 'the server URL is missing' : 'give exactly one server URL');
  let target: URL;
  try {
    target = new URL(positionals[0] as string);
  } catch {
    return usage(`not a URL: ${positionals[0]}`);
  }
  if (target.protocol !== 'https:') return usage(`the URL must be https://, not ${target.protocol}`);
  if (values.ca && values.insecure) return usage('--ca and --insecure exclude each other');
  if (values.h3 && values.insecure) return usage('--insecure does not apply with --h3: the QUIC handshake always verifies the certificate (give --ca)');
  if (values.h3 && values['options-star']) return usage('--options-star does not apply with --h3');
  const timeoutMs = positiveInt(values.timeout, '--timeout');
  const waitMs = positiveInt(values.wait, '--wait');
  for (const v of [timeoutMs, waitMs]) if (v instanceof Error) return usage(v.message);
  let ca: string | undefined;
  if (values.ca) {
    try {
      ca = readFileSync(values.ca, 'utf8');
    } catch (e) {
      return usage(`cannot read --ca ${values.ca}: ${(e as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) return usage(`--ca ${values.ca} holds no PEM certificate`);
  }
  let flags: CodepointFlags;
  let groups: ProfileGroupsJson = {};
  try {
    flags = {
      ...(values.setting !== undefined ? { setting: parseCodepoint(values.setting, '--setting') } : {}),
      ...(values['frame-type'] !== undefined ? { frameType: parseCodepoint(values['frame-type'], '--frame-type') } : {}),
      ...(values['error-code'] !== undefined ? { errorCode: parseCodepoint(values['error-code'], '--error-code') } : {}),
    };
    if (values.profile) {
      let text: string;
      try {
        text = readFileSync(values.profile, 'utf8');
      } catch (e) {
        return usage(`cannot read --profile ${values.profile}: ${(e as Error).message}`);
      }
      const parsed = parseProfileFile(text);
      groups = values.h3 ? parsed.h3 : parsed.h2;
    }
  } catch (e) {
    if (e instanceof TypeError) return usage(e.message);
    throw e;
  }
  let h2Profile: H2Profile | undefined;
  let h3Profile: H3Profile | undefined;
  try {
    if (values.h3) h3Profile = checkProfileH3(groups, flags);
    else h2Profile = checkProfileH2(groups, flags);
  } catch (e) {
    if (e instanceof InvalidProfile) return usage(`the codepoints cannot be used: ${e.message}`);
    throw e;
  }
  const split = (list: string[] | undefined): string[] => (list ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const common = {
    ...(ca ? { ca } : {}),
    origins: split(values.origin),
    ...(values.connect ? { connectAddress: values.connect } : {}),
    ...(typeof timeoutMs === 'number' ? { timeoutMs } : {}),
    ...(typeof waitMs === 'number' ? { waitMs } : {}),
    probe: values.probe ?? false,
  };
  let output: string;
  let verdict: keyof typeof EXIT_STATUS;
  try {
    if (values.h3) {
      const report = await checkH3Server(target, { ...common, profile: h3Profile! });
      output = values.json ? `${JSON.stringify(report, null, 2)}\n` : formatH3Report(report);
      verdict = report.verdict;
    } else {
      const report = await checkServer(target, { ...common, profile: h2Profile!, insecure: values.insecure ?? false, optionsStar: split(values['options-star']) });
      output = values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report);
      verdict = report.verdict;
    }
  } catch (e) {
    // The checkers throw only for options they cannot use (a malformed origin).
    if (e instanceof TypeError) return usage(e.message);
    throw e;
  }
  process.stdout.write(output);
  return EXIT_STATUS[verdict];
}
