// What tests and demos need and a library user never should: a throwaway CA that issues certificates.
export { TestPki, type TestKeyType, type IssueOptions, type IssuedIdentity } from './test-pki.js';
