export { createRequest, parseRequest, MIN_CONTEXT_LENGTH, DEFAULT_CONTEXT_LENGTH, type AuthenticatorRequest, type CreateRequestOptions } from './request.js';
export { createAuthenticator, createEmptyAuthenticator, chooseCandidate, whyUnfit, type AuthenticateOptions, type EmptyAuthenticatorOptions, type AuthenticatorCandidate, type OfferedSchemes } from './authenticate.js';
export { validateAuthenticator, parseAuthenticator, getContext, type ValidateOptions, type ValidatedAuthenticator, type ParsedAuthenticator } from './validate.js';
export { ConnectionState } from './state.js';
