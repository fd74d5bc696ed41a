// Package ea implements TLS Exported Authenticators (RFC 9261) for the interop
// harness. It is written from the RFC alone, shares nothing with the
// TypeScript code it tests, and supports TLS 1.3 connections only.
package ea

import "fmt"

// Kind names why an authenticator or request was refused. The strings are
// stable: harness output and tests compare them.
type Kind string

const (
	KindMalformed     Kind = "malformed"              // bytes do not parse strictly
	KindConnection    Kind = "unsupported_connection" // not TLS 1.3, or an unknown cipher suite
	KindRole          Kind = "wrong_role"             // request type or spontaneous use not allowed for this creator
	KindContext       Kind = "bad_context"            // context reused, or not the request's
	KindExtension     Kind = "bad_extension"          // certificate entry extension that was not offered
	KindScheme        Kind = "bad_scheme"             // signature scheme not TLS 1.3, not offered, or not fitting the key
	KindFinished      Kind = "bad_finished"           // Finished MAC mismatch
	KindSignature     Kind = "bad_signature"          // CertificateVerify signature does not verify
	KindEmpty         Kind = "empty_authenticator"    // a well-formed refusal: no identity
	KindUntrusted     Kind = "untrusted_chain"        // PKIX validation failed (not a protocol error)
	KindNoCertificate Kind = "no_certificate"         // builder: no usable scheme for the request
)

// Error is the only error type this package returns for bad input.
type Error struct {
	Kind   Kind
	Detail string
}

func (e *Error) Error() string { return "ea: " + string(e.Kind) + ": " + e.Detail }

func fail(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of an *Error, or "" for anything else.
func KindOf(err error) Kind {
	if e, ok := err.(*Error); ok {
		return e.Kind
	}
	return ""
}
