// The authenticator core without any Node built-in: the browser entry of secondary-certs/ea (and the
// Node entry, index.ts, with the node:crypto provider installed as the default).
export { createRequest, parseRequest, MIN_CONTEXT_LENGTH, DEFAULT_CONTEXT_LENGTH, type AuthenticatorRequest, type CreateRequestOptions } from './request.js';
export { createAuthenticator, createEmptyAuthenticator, chooseCandidate, whyUnfit, type AuthenticateOptions, type EmptyAuthenticatorOptions, type AuthenticatorCandidate, type OfferedSchemes } from './authenticate.js';
export { validateAuthenticator, parseAuthenticator, getContext, type ValidateOptions, type ValidatedAuthenticator, type ParsedAuthenticator } from './validate.js';
export { ConnectionState } from './state.js';
export { parseVector, runVector, type Vector, type VectorResult } from './vectors.js';
