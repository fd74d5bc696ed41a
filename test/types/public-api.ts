// A compile-only test of the public API: `npm run build` type-checks this file (it is never run), so
// a change that breaks how a user calls the API, or what an event listener receives, fails the build.
// It imports only through the barrels that package.json exports.
import type { TLSSocket } from 'node:tls';
import type { ServerHttp2Stream } from 'node:http2';
import {
  SecondaryCertsError,
  createRequest,
  createAuthenticator,
  validateAuthenticator,
  ConnectionState,
  keysFromTlsSocket,
  nodeCrypto,
  type AuthenticatorKeys,
  type AuthenticatorRequest,
  type Signer,
  type ValidatedAuthenticator,
} from '../../src/index.js';
import { CertificatePolicy, type AcceptedCertificate } from '../../src/pki/index.js';
import {
  connect,
  createSecondaryCertServer,
  type CertificateEvent,
  type CertificateSentEvent,
  type CertificateNotSentEvent,
  type ClientOptions,
  type H2ConnectionError,
  type SecondaryCertConnection,
  type ServerConnection,
} from '../../src/h2/index.js';
import { ClientAuthClient, ClientAuthServer, ClientCertificates, type ClientIdentity } from '../../src/flows/client-auth/index.js';
import { connectH3, createH3SecondaryCertServer, type H3ClientOptions, type H3CertificateSentEvent, type H3ConnectionError, type H3Response, type TransportClose } from '../../src/h3/index.js';
import { SecondaryCertAgent, type OriginProver, type PoolableConnection, type PooledConnection } from '../../src/pool/index.js';
import { optionsStarProver, type OptionsStarAttempt } from '../../src/flows/options-star/index.js';
import type { H2Extension } from '../../src/h2/index.js';
import { checkServer, checkH3Server, formatReport, EXIT_STATUS, type CheckReport, type H3CheckReport, type Verdict } from '../../src/cli/check/index.js';

export async function authenticators(socket: TLSSocket, signer: Signer, chain: Uint8Array[]): Promise<ValidatedAuthenticator> {
  const keys: AuthenticatorKeys = keysFromTlsSocket(socket);
  const state = new ConnectionState('server');
  const request: AuthenticatorRequest = createRequest({ creator: 'client', serverName: 'b.example', state: new ConnectionState('client') });
  void request;
  const authenticator: Uint8Array = await createAuthenticator({ keys, creator: 'server', certificateChain: chain, signer, state });
  const fromPem: Signer = await nodeCrypto.signerFromPrivateKey('pem');
  void fromPem;
  return validateAuthenticator({ keys, creator: 'server', authenticator, state: new ConnectionState('client') });
}

export async function policy(caPem: string, chain: Uint8Array[]): Promise<boolean> {
  const accepted: AcceptedCertificate = await new CertificatePolicy({ trustAnchors: [caPem], role: 'server' }).check(chain);
  return accepted.covers('b.example');
}

export async function h2(caPem: string, pem: { key: string; cert: string }): Promise<void> {
  const { server, extension } = await createSecondaryCertServer({ ...pem, identities: [{ chain: pem.cert, key: pem.key }] });
  server.on('stream', (stream: ServerHttp2Stream) => {
    const connection: ServerConnection | undefined = extension.connectionOf(stream.session);
    stream.respond({ ':status': connection?.covers('b.example') ? 200 : 421 });
  });
  extension.on('certificateSent', (e: CertificateSentEvent) => void e.names);
  extension.on('certificateNotSent', (e: CertificateNotSentEvent) => void e.reason);
  extension.on('protocolError', (e: H2ConnectionError, c: ServerConnection) => void [e.wireCode, c.sent]);
  // @ts-expect-error a certificateSent listener gets the event, not a string
  extension.on('certificateSent', (e: string) => void e);

  const options: ClientOptions = { ca: [caPem], lookup: async () => ['127.0.0.1'] };
  const conn: SecondaryCertConnection = await connect('https://a.example/', options);
  conn.on('certificate', (e: CertificateEvent) => void (e.accepted ? e.names : e.reason));
  conn.on('protocolError', (e: H2ConnectionError) => void e.wireCode);
  conn.once('negotiated', () => undefined);
  // @ts-expect-error 'certificate' carries a CertificateEvent
  conn.on('certificate', (e: number) => void e);
  // @ts-expect-error emit checks the arguments too
  conn.emit('certificate', 'not an event');
  const answer: { ok: boolean; reason: string } = await conn.authorityFor('https://b.example/');
  void answer;
  await conn.close();
}

export async function h3(caPem: string, pem: { key: string; cert: string }): Promise<H3Response> {
  const server = await createH3SecondaryCertServer({ ...pem, identities: [] }, (req, res) => res.end(200, {}, req.authority));
  server.on('certificateSent', (e: H3CertificateSentEvent) => void e.connection.sent);
  server.on('protocolError', (e: H3ConnectionError) => void e.wireCode);
  const options: H3ClientOptions = { ca: [caPem] };
  const conn = await connectH3(`https://a.example:${server.port}/`, options);
  conn.on('close', (info: TransportClose) => void info.code);
  conn.on('certificate', (e) => void e.names);
  // @ts-expect-error 'close' carries the TransportClose
  conn.on('close', (info: string) => void info);
  return conn.request('https://b.example/');
}

export async function clientCertificates(caPem: string, pem: { key: string; cert: string }): Promise<ClientIdentity | undefined> {
  const clientAuthServer = new ClientAuthServer({ trustAnchors: [caPem] });
  const { server } = await createSecondaryCertServer({ ...pem, extensions: [clientAuthServer] });
  const certificates = new ClientCertificates((question) => (question.origin === 'https://a.example' ? { chain: pem.cert, key: pem.key } : null));
  const clientAuth = new ClientAuthClient({ certificates });
  const connection = await connect('https://a.example/', { ca: [caPem], extensions: [clientAuth] });
  clientAuth.of(connection)?.on('answer', (answer) => void [answer.flow, answer.origin]);
  clientAuth.of(connection)?.on('retired', () => {});
  certificates.clear('https://a.example');
  certificates.on('cleared', (origin: string | undefined) => void origin);
  // @ts-expect-error 'cleared' carries an origin or undefined, not a number
  certificates.on('cleared', (origin: number) => void origin);
  clientAuthServer.on('refused', (e, stream) => void [e.code, stream.id]);
  let identity: ClientIdentity | undefined;
  server.on('stream', async (stream) => {
    identity = await clientAuthServer.requireClientCertificate(stream);
    identity = await clientAuthServer.authenticate(stream);
  });
  return identity;
}

export async function checker(): Promise<number> {
  const report: CheckReport = await checkServer('https://127.0.0.1:8443', { origins: ['https://b.example'] });
  const h3Report: H3CheckReport = await checkH3Server('https://127.0.0.1:8443');
  const verdict: Verdict = report.verdict;
  void formatReport(h3Report);
  return EXIT_STATUS[verdict];
}

export async function pool(caPem: string, certificates: ClientCertificates): Promise<number> {
  const prover = optionsStarProver({ timeoutMs: 5000 });
  prover.on('attempt', (attempt: OptionsStarAttempt) => void [attempt.pooled.id, attempt.hint, attempt.result?.outcome]);
  const mine: OriginProver = {
    prove: async (candidates: readonly PooledConnection[]) => (candidates[0] ? { pooled: candidates[0], authority: { ok: true, reason: 'mine' } } : undefined),
    observeResponse: (origin, headers) => void [origin, headers['alt-svc']],
  };
  const agent = new SecondaryCertAgent({ ca: [caPem], provers: [prover, mine], extensions: [new ClientAuthClient({ certificates })] });
  // Both protocols' connections are what the pool holds.
  const held: PoolableConnection[] = agent.connections.map((p) => p.connection);
  void held;
  // @ts-expect-error the agent takes provers now, not optionsStar
  void new SecondaryCertAgent({ ca: [caPem], optionsStar: true });
  return (await agent.request('https://a.example/')).status;
}

export const noisyExtension: H2Extension<SecondaryCertConnection> = {
  frameTypes: () => [0xe0],
  attach(context, connection) {
    context.onFrame((header, payload) => void [header.type, payload.length, connection.origin]);
    context.sendSettings({ customSettings: { 0xe0e0: 1 } }, () => context.sendFrame(0xe0, 0, new Uint8Array(0)));
  },
};

export function errors(e: unknown): string | undefined {
  return e instanceof SecondaryCertsError ? e.code : undefined;
}
