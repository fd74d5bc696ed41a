import { Reader } from '../codec/reader.js';
import {
  ExtensionType,
  parseCertificateAuthorities,
  parseOidFilters,
  parseServerName,
  parseSignatureSchemeList,
  parseStatusRequestInRequest,
  readExtensions,
  requireEmpty,
  writeExtensions,
  type Extension,
  type OidFilter,
} from './extension.js';
import { encodeHandshake, HandshakeType, readSingleHandshake } from './handshake.js';

// CertificateRequest (13, made by a server) and ClientCertificateRequest (17, made by a client) share one
// layout (RFC 9261 section 4):
//   opaque certificate_request_context<0..2^8-1>; Extension extensions<2..2^16-1>;

export type RequestType = typeof HandshakeType.certificate_request | typeof HandshakeType.client_certificate_request;

export interface CertificateRequestMessage {
  type: RequestType;
  context: Uint8Array;
  extensions: Extension[];
}

/** The request's extensions, parsed. Unknown extensions stay in `extensions` only (RFC 9261 section 5.2.1: ignored). */
export interface RequestExtensions {
  signatureSchemes: number[];
  signatureSchemesCert?: number[];
  serverName?: string;
  certificateAuthorities?: Uint8Array[];
  oidFilters?: OidFilter[];
  statusRequest: boolean;
  signedCertificateTimestamp: boolean;
}

export function encodeCertificateRequest(m: CertificateRequestMessage): Uint8Array {
  return encodeHandshake(m.type, (w) => {
    w.opaque(1, m.context, 'certificate_request_context');
    writeExtensions(w, m.extensions);
  });
}

export function parseCertificateRequest(bytes: Uint8Array): CertificateRequestMessage & { raw: Uint8Array; parsed: RequestExtensions } {
  const msg = readSingleHandshake(bytes, [HandshakeType.certificate_request, HandshakeType.client_certificate_request], 'authenticator request');
  const type = msg.type as RequestType;
  const name = type === HandshakeType.certificate_request ? 'CertificateRequest' : 'ClientCertificateRequest';
  const r = new Reader(msg.body, name);
  const context = r.vector(1, 'certificate_request_context');
  const extensions = readExtensions(r, 'extensions', 2);
  r.end();
  return { type, context, extensions, raw: msg.raw, parsed: parseRequestExtensions(type, extensions, name) };
}

function parseRequestExtensions(type: RequestType, extensions: Extension[], name: string): RequestExtensions {
  const out: RequestExtensions = { signatureSchemes: [], statusRequest: false, signedCertificateTimestamp: false };
  let sawSignatureAlgorithms = false;
  for (const e of extensions) {
    switch (e.type) {
      case ExtensionType.signature_algorithms:
        out.signatureSchemes = parseSignatureSchemeList(e.data, `${name}.signature_algorithms`);
        sawSignatureAlgorithms = true;
        break;
      case ExtensionType.signature_algorithms_cert:
        out.signatureSchemesCert = parseSignatureSchemeList(e.data, `${name}.signature_algorithms_cert`);
        break;
      case ExtensionType.server_name:
        // RFC 9261 section 8.1 allows server_name in requests made by clients only; a recognised extension
        // in a message it is not defined for is an illegal_parameter (RFC 8446 section 4.2).
        if (type !== HandshakeType.client_certificate_request) new Reader(e.data, name).fail('server_name is only allowed in a ClientCertificateRequest');
        out.serverName = parseServerName(e.data);
        break;
      case ExtensionType.certificate_authorities:
        out.certificateAuthorities = parseCertificateAuthorities(e.data);
        break;
      case ExtensionType.oid_filters:
        out.oidFilters = parseOidFilters(e.data);
        break;
      case ExtensionType.status_request:
        parseStatusRequestInRequest(e.data);
        out.statusRequest = true;
        break;
      case ExtensionType.signed_certificate_timestamp:
        requireEmpty(e.data, `${name}.signed_certificate_timestamp`);
        out.signedCertificateTimestamp = true;
        break;
      default:
        break; // unknown: ignored when building, kept for the entry-extension check
    }
  }
  // RFC 8446 section 4.3.2 and RFC 9261 section 7.1: signature_algorithms MUST be present.
  if (!sawSignatureAlgorithms) new Reader(new Uint8Array(0), name).fail('signature_algorithms is missing');
  return out;
}
