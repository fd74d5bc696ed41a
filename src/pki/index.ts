export { CertificatePolicy, type CertificatePolicyOptions, type AcceptedCertificate, type CertificateRole } from './policy.js';
export { hostCoveredBy, originCoveredBy, parseHost, normalizeHost, type SubjectNames } from './names.js';
export { TestPki, type TestKeyType, type IssueOptions, type IssuedIdentity } from '../testing/test-pki.js';
