// The errors of a QUIC transport (any stack behind the interface in transport.ts raises these), kept
// apart from the stack behind it (src/h3/transport/quiche) so code above the transport need not import it.
import { SecondaryCertsError } from '../../errors.js';

/** Thrown by openStream() on a connection that is closing or closed. */
export class TransportClosed extends SecondaryCertsError {
  readonly code = 'ERR_TRANSPORT_CLOSED';
}

/** No QUIC handshake completed within the time allowed (nothing answers, or packets are lost). */
export class QuicConnectTimeout extends SecondaryCertsError {
  readonly code = 'ERR_QUIC_CONNECT_TIMEOUT';
}

/** The QUIC handshake failed: the server certificate did not verify for the name, or the peer refused. */
export class QuicHandshakeFailed extends SecondaryCertsError {
  readonly code = 'ERR_QUIC_HANDSHAKE';
}

/** The peer's MAX_STREAMS allows no more streams of this kind for now: retry once some have ended. */
export class StreamLimitReached extends SecondaryCertsError {
  readonly code = 'ERR_STREAM_LIMIT';
}

/** A peer reset or stopped a stream with this HTTP/3 code (the reason of a failed read or write). */
export class StreamResetByPeer extends SecondaryCertsError {
  readonly code = 'ERR_STREAM_RESET';
  constructor(readonly wireCode: number) {
    super(`the peer reset the stream with 0x${wireCode.toString(16)}`);
  }
}

/** We abandoned the stream ourselves (abort()): later reads and writes fail with this. */
export class StreamAborted extends SecondaryCertsError {
  readonly code = 'ERR_STREAM_ABORTED';
  constructor(readonly wireCode: number) {
    super(`the stream was abandoned with 0x${wireCode.toString(16)}`);
  }
}

/** The native QUIC binding does not load here: it is built for Linux on x64 only. */
export class QuicUnavailable extends SecondaryCertsError {
  readonly code = 'ERR_QUIC_UNAVAILABLE';
}
