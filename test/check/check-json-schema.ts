// The JSON schema of `secondary-certs check --json` (docs/check-json.md) as a checker: every field's type,
// the required ones present, no field the document does not list. Tests parse the command's output with it.
import assert from 'node:assert/strict';
import { CHECK_SCHEMA_VERSION, type CheckReport } from '../../src/cli/check/report.js';

type Shape = Record<string, { type: 'string' | 'number' | 'boolean' | 'object' | 'array' | 'null-or-boolean'; optional?: boolean; of?: Shape; items?: 'string' | 'number' | Shape | 'pair' }>;

const CHECK: Shape = {
  id: { type: 'string' },
  section: { type: 'string' },
  title: { type: 'string' },
  status: { type: 'string' },
  detail: { type: 'string' },
  evidence: { type: 'string', optional: true },
};
const FRAME: Shape = {
  index: { type: 'number' },
  type: { type: 'number' },
  name: { type: 'string' },
  flags: { type: 'number' },
  streamId: { type: 'number' },
  length: { type: 'number' },
  atMs: { type: 'number' },
  afterSettingValue1: { type: 'boolean' },
  oversize: { type: 'boolean', optional: true },
  hex: { type: 'string' },
};
const CERTIFICATE: Shape = {
  frame: { type: 'number' },
  via: { type: 'string' },
  names: { type: 'array', items: 'string' },
  chainLength: { type: 'number' },
  valid: { type: 'boolean' },
  accepted: { type: 'boolean', optional: true },
  reason: { type: 'string', optional: true },
  scheme: { type: 'string', optional: true },
};
const PROBE: Shape = {
  name: { type: 'string' },
  sent: { type: 'string' },
  bytes: { type: 'string', optional: true },
  serverSupports: { type: 'null-or-boolean' },
  reaction: {
    type: 'object',
    of: {
      closed: { type: 'boolean' },
      errorCode: { type: 'number', optional: true },
      errorName: { type: 'string', optional: true },
      transportCode: { type: 'number', optional: true },
      stillServes: { type: 'boolean' },
      status: { type: 'number', optional: true },
      detail: { type: 'string', optional: true },
    },
  },
};
export const REPORT_SHAPE: Shape = {
  schemaVersion: { type: 'number' },
  protocol: { type: 'string' },
  target: { type: 'string' },
  connectAddress: { type: 'string', optional: true },
  startedAt: { type: 'string' },
  durationMs: { type: 'number' },
  tls: { type: 'object', optional: true, of: { protocol: { type: 'string' }, cipher: { type: 'string' }, alpn: { type: 'string' }, peerNames: { type: 'array', items: 'string' } } },
  profile: { type: 'object', of: { setting: { type: 'number' }, frame: { type: 'number' }, errorCode: { type: 'number' } } },
  extension: { type: 'string' },
  settings: { type: 'array', items: { atMs: { type: 'number' }, entries: { type: 'array', items: 'pair' } } },
  frames: { type: 'array', items: FRAME },
  certificates: { type: 'array', items: CERTIFICATE },
  origins: { type: 'array', items: { origin: { type: 'string' }, coveredBy: { type: 'string', optional: true }, status: { type: 'number', optional: true }, body: { type: 'string', optional: true } } },
  goaway: { type: 'object', optional: true, of: { code: { type: 'number' }, lastStreamId: { type: 'number' }, debug: { type: 'string' } } },
  clientClose: { type: 'object', optional: true, of: { code: { type: 'number' }, name: { type: 'string' }, reason: { type: 'string' } } },
  serverClose: { type: 'object', optional: true, of: { code: { type: 'number' }, app: { type: 'boolean' }, reason: { type: 'string' } } },
  probes: { type: 'array', items: PROBE },
  checks: { type: 'array', items: CHECK },
  summary: { type: 'object', of: { passed: { type: 'number' }, failed: { type: 'number' }, skipped: { type: 'number' } } },
  verdict: { type: 'string' },
  error: { type: 'string', optional: true },
};

const ENUMS: Record<string, readonly string[]> = {
  'report.protocol': ['h2', 'h3'],
  'report.extension': ['supported', 'not-supported', 'unknown'],
  'report.verdict': ['conforms', 'does-not-conform', 'no-extension', 'unreachable'],
  'check.status': ['pass', 'fail', 'skip'],
  'certificate.via': ['SERVER_CERTIFICATE', 'OPTIONS *'],
  'origin.coveredBy': ['tls', 'secondary'],
  'probe.name': ['client-server-certificate', 'client-server-certificate-garbage', 'setting-value-2', 'setting-value-max', 'options-star-bad-body'],
};

function checkShape(value: unknown, shape: Shape, where: string): void {
  assert.equal(typeof value, 'object', `${where} is an object`);
  assert.ok(value !== null && !Array.isArray(value), `${where} is an object`);
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) assert.ok(key in shape, `${where}.${key} is not in the schema`);
  for (const [key, field] of Object.entries(shape)) {
    const v = object[key];
    const at = `${where}.${key}`;
    if (v === undefined) {
      assert.ok(field.optional, `${at} is required`);
      continue;
    }
    if (field.type === 'null-or-boolean') assert.ok(v === null || typeof v === 'boolean', `${at} is null or a boolean`);
    else if (field.type === 'array') {
      assert.ok(Array.isArray(v), `${at} is an array`);
      for (const [i, item] of (v as unknown[]).entries()) {
        if (field.items === 'pair') assert.ok(Array.isArray(item) && item.length === 2 && item.every((n) => typeof n === 'number'), `${at}[${i}] is a [number, number] pair`);
        else if (typeof field.items === 'string') assert.equal(typeof item, field.items, `${at}[${i}]`);
        else if (field.items) checkShape(item, field.items, `${at}[${i}]`);
      }
    } else if (field.type === 'object') checkShape(v, field.of!, at);
    else assert.equal(typeof v, field.type, at);
  }
}

/** Asserts that `json` is a report of the documented schema; returns it typed. */
export function assertCheckJson(json: unknown): CheckReport {
  checkShape(json, REPORT_SHAPE, 'report');
  const r = json as CheckReport;
  assert.equal(r.schemaVersion, CHECK_SCHEMA_VERSION);
  const oneOf = (key: string, v: string | undefined): void => {
    if (v !== undefined) assert.ok(ENUMS[key]!.includes(v), `${key} is one of ${ENUMS[key]!.join(', ')}, not ${v}`);
  };
  oneOf('report.protocol', r.protocol);
  oneOf('report.extension', r.extension);
  oneOf('report.verdict', r.verdict);
  for (const c of r.checks) oneOf('check.status', c.status);
  for (const c of r.certificates) oneOf('certificate.via', c.via);
  for (const o of r.origins) oneOf('origin.coveredBy', o.coveredBy);
  for (const p of r.probes) oneOf('probe.name', p.name);
  assert.ok(!Number.isNaN(Date.parse(r.startedAt)), 'startedAt is an ISO date');
  const s = r.summary;
  assert.deepEqual([s.passed, s.failed, s.skipped], [r.checks.filter((c) => c.status === 'pass').length, r.checks.filter((c) => c.status === 'fail').length, r.checks.filter((c) => c.status === 'skip').length]);
  for (const p of r.probes) assert.ok(r.checks.some((c) => c.id === `probe.${p.name}`), `probe ${p.name} has its check`);
  return r;
}
