// What a watcher hands the judges: what the server sent, in protocol-neutral records, and the few terms in
// which HTTP/2 and HTTP/3 differ (where a rule is written, the codes a client closes with, how a setting
// is encoded). The judges read only these; the watchers under h2/ and h3/ fill them in.

/** One SETTINGS frame from the server. */
export interface SettingsSeen {
  at: number;
  /** [identifier, value] pairs as the watcher read them. */
  entries: [number, number][];
  /** The whole frame as sent, when the watcher has its bytes (evidence). */
  wire?: Uint8Array;
}

/** An extension frame the server sent. */
export interface FrameSeen {
  type: number;
  flags: number;
  streamId: number;
  /** The length the frame header announced. */
  length: number;
  payload: Uint8Array;
  at: number;
  /** Whether the server's SETTINGS with the setting = 1 had arrived before this frame. */
  afterValue1: boolean;
  /** Larger than the frame size we allowed: its payload was skipped (empty here). */
  oversize: boolean;
  /** On the stream the extension puts it on: HTTP/2 stream 0, the HTTP/3 server's control stream. */
  rightStream: boolean;
  /** Where it came, for details: "stream 0", "control stream 3", "request stream 0". */
  stream: string;
  /** The frame as it was on the wire (header and payload). */
  wire: Uint8Array;
}

/** A rule of the protocol's stream layer the server broke, as a conforming client would have seen it. */
export interface Violation {
  code: number;
  message: string;
  section: string;
  evidence?: string;
}

/** Everything the watcher saw up to the point of judging. */
export interface WireRecord {
  /** Time zero of the report: the server's first SETTINGS (HTTP/2: the handshake, if none came). */
  t0: number | undefined;
  settings: SettingsSeen[];
  /** When the setting = 1 first arrived. */
  value1At: number | undefined;
  frames: FrameSeen[];
  closed: boolean;
}

/** The answer to one GET on the checker's connection. */
export interface Answer {
  status?: number;
  /** The start of the body, as text. */
  body: string;
  error?: string;
}

/** How the server ended the connection, when it did. */
export interface ServerClose {
  idle: boolean;
  /** An application (HTTP) error code, not a transport one. */
  app: boolean;
  code: number;
  /** As seen, e.g. `GOAWAY code 0x0` or `application code 0x100 (H3_NO_ERROR)`. */
  description: string;
}

/** Where HTTP/2 and HTTP/3 differ, for the judges. */
export interface ProtocolTerms {
  alpn: string;
  connection: { section: string; title: string };
  settingsFirst: { section: string; title: string };
  /** Where the setting's use is written (sent as 1, never lowered). */
  settingSection: string;
  /** Where "the value MUST be 0 or 1" is written (-02 section 4.1 for HTTP/2, 4.2 for HTTP/3). */
  valueSection: string;
  /**
   * HTTP/3 sends SETTINGS once, each identifier at most once; HTTP/2 may send SETTINGS again, and then the
   * setting must never go from 1 to 0.
   */
  settingsOnce: boolean;
  /** The setting (id, value) as it is written on the wire. */
  encodeSetting(id: number, value: number): Uint8Array;
  frameName(type: number): string;
  /** The SERVER_CERTIFICATE stream rule: where it is written, which stream (as a title says it). */
  frameStream: { section: string; title: string };
  /** Hex characters of a frame's start shown as evidence of its header. */
  headerHexChars: number;
  /** HTTP/2 frames carry flags, which SERVER_CERTIFICATE leaves unset. */
  flagsSection?: string;
  /** The negotiation rule: its id suffix (`timing`, `negotiated`), section and title. */
  negotiated: { id: string; section: string; title: string };
  /** Our limit on frame size and what exceeding it is called, where a watcher records frames past it (HTTP/2's). */
  maxFrame?: { section: string; setting: string; size: number; error: string };
  /**
   * Whether the authenticator of a SERVER_CERTIFICATE on the wrong stream or before negotiation is still
   * checked (HTTP/2's checker), or skipped because a client would not read it (HTTP/3's).
   */
  checkMisplacedAuthenticators: boolean;
  /**
   * HTTP/2's checker asks only for the origins a certificate covers and fails the others; HTTP/3's asks for
   * every one, the target first, and takes 421 as the right answer for those not proven.
   */
  unprovenOrigins: 'fail' | 'ask';
  serverClose: { id: string; section: string };
  codes: { noError: number; certificateInvalid: number; wrongStream: number };
  codeName(code: number): string;
  /** What a client closes with for a setting value other than 0 or 1. */
  badSettingError: string;
}
