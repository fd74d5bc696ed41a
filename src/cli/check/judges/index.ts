// The judges: one function per check (or family of checks with one rule), shared by the HTTP/2 and the
// HTTP/3 checkers, reading the protocol-neutral records their watchers fill in.
export * from './records.js';
export { checkSpontaneousAuthenticator, type SpontaneousCheckInput, type SpontaneousCheckOutcome } from './authenticator.js';
export { CertificateJudge } from './certificate.js';
export { judgeConnection, judgeSettings, settingName } from './settings.js';
export { judgeFrames, type FrameJudging, type FramesFound } from './frames.js';
export { judgeOrigins, provenOrigins } from './origins.js';
export { clientCloseCode, judgeServerClose, judgeStreamRules } from './close.js';
