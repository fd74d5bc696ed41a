// What tests and demos need and a library user never should: a throwaway CA that issues certificates.
export { TestPki, TestCtLog, type TestKeyType, type IssueOptions, type IssuedIdentity, type OcspResponseOptions, type TestOcspResponder } from './test-pki.js';
