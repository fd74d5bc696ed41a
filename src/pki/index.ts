export { CertificatePolicy, type CertificatePolicyOptions, type AcceptedCertificate, type CertificateRole, type StaplingPolicy, type Stapled, type OcspOutcome, type SctOutcome } from './policy.js';
export { checkOcspResponse, type OcspCheckOptions, type OcspGood } from './ocsp.js';
export { checkSctList, parseSctList, CtLogSet, logIdOf, type CtLog, type SctReport, type SctVerdict, type SignedCertificateTimestamp } from './sct.js';
export { stapledOf } from './stapled.js';
export { hostCoveredBy, originCoveredBy, parseHost, normalizeHost, type SubjectNames } from './names.js';
export { certificateCovers, subjectNamesOf } from './certificate-names.js';
export { encodeRequiredDomain, readRequiredDomain, checkRequiredDomain, type RequiredDomain } from './required-domain.js';
