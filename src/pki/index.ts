export { CertificatePolicy, type CertificatePolicyOptions, type AcceptedCertificate, type CertificateRole } from './policy.js';
export { hostCoveredBy, originCoveredBy, parseHost, normalizeHost, type SubjectNames } from './names.js';
export { certificateCovers, subjectNamesOf } from './certificate-names.js';
export { encodeRequiredDomain, readRequiredDomain, checkRequiredDomain, type RequiredDomain } from './required-domain.js';
