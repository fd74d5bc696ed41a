// The conformance checker as a library (secondary-certs/check), for interop harnesses: run a check
// over HTTP/2 or HTTP/3, get a report (JSON-ready), format it, map its verdict to an exit status. The
// deliberately broken server of the tests (test/helpers/broken-server.ts) stays out of it.
export { checkServer, type CheckOptions } from './h2/check.js';
export { checkH3Server, formatH3Report, type H3CheckOptions, type H3CheckReport } from './h3/check.js';
export { checkSpontaneousAuthenticator, type SpontaneousCheckInput, type SpontaneousCheckOutcome } from './judges/authenticator.js';
export { parseProfileFile, checkProfileH2, checkProfileH3, type CheckProfileFile } from './profile-file.js';
export {
  formatReport,
  EXIT_STATUS,
  CHECK_SCHEMA_VERSION,
  type ProbeName,
  type ProbeRecord,
  type CheckReport,
  type CheckResult,
  type CheckStatus,
  type RecordedFrame,
  type RecordedSettings,
  type CertificateRecord,
  type OriginRecord,
  type Verdict,
} from './report.js';
