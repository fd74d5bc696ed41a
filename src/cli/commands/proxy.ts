import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { startProxy, type ProxyOptions } from '../../flows/proxy/proxy.js';
import { parseCommand, untilStopped, usageError, type CommandOptions } from './args.js';

// `secondary-certs proxy`: a TLS-terminating reverse proxy that proves its extra origins with secondary
// certificates and forwards client identities to its backend (src/flows/proxy/proxy.ts).

export const PROXY_OPTIONS = {
  listen: { type: 'string' },
  backend: { type: 'string' },
  'backend-h2': { type: 'boolean' },
  'backend-ca': { type: 'string' },
  identity: { type: 'string', multiple: true },
  'client-ca': { type: 'string' },
  'require-client-cert': { type: 'string', multiple: true },
  'no-binding': { type: 'boolean' },
  'backend-timeout': { type: 'string' },
  h3: { type: 'boolean' },
} as const satisfies CommandOptions;

export const PROXY_USAGE = `usage: secondary-certs proxy --backend URL --identity NAME=CHAIN,KEY [--identity NAME=CHAIN,KEY ...] [options]
  a TLS-terminating reverse proxy over HTTP/2 (and HTTP/1.1): the first identity is its TLS certificate,
  the others are proven with secondary certificates (SERVER_CERTIFICATE); requests go to the backend with
  Client-Cert and Client-Cert-Chain (RFC 9440) for the client certificate the proxy validated, and any the
  client sent are removed; over an https backend (TLS 1.3) the fields carry Client-Cert-Binding, an HMAC
  keyed with an exporter of the proxy's connection to the backend; runs until Ctrl-C
  --listen [HOST:]PORT          where to listen (default 127.0.0.1:8443; port 0: any, printed)
  --backend URL                 http://HOST:PORT or https://HOST:PORT
  --backend-h2                  HTTP/2 to the backend (default HTTP/1.1)
  --backend-ca FILE             trust anchors (PEM) for an https backend
  --identity NAME=CHAIN,KEY     a PEM chain (leaf first) and PEM key whose certificate covers NAME
  --client-ca FILE              trust anchors (PEM) for client certificates: asked for in the TLS handshake
                                (never required there) and, where a route requires one, with the HTTP/2 flows
  --require-client-cert ROUTE   HOST, HOST/PATH-PREFIX or * : requests there need a client certificate (403 without)
  --no-binding                  no Client-Cert-Binding to an https backend
  --backend-timeout MS          504 when the backend has not answered by then (default 30000)
  --h3                          also serve HTTP/3 (QUIC) on the same port number over UDP
  --verbose                     the debug log on stderr (as NODE_DEBUG=secondary-certs)
  -h, --help                    this help
exit status: 0 stopped by SIGINT or SIGTERM, 1 cannot start, 2 usage error
`;

/** Whether ROUTE (HOST, HOST/PATH-PREFIX or *) matches a request. */
export function routeMatches(route: string, host: string, path: string): boolean {
  if (route === '*') return true;
  const slash = route.indexOf('/');
  const routeHost = (slash < 0 ? route : route.slice(0, slash)).toLowerCase();
  return routeHost === host && (slash < 0 || path.startsWith(route.slice(slash)));
}

export async function proxyCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand('proxy', argv, PROXY_OPTIONS, PROXY_USAGE);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const bad = (message: string): number => usageError('proxy', PROXY_USAGE, message);
  if (!values.backend) return bad('--backend is required');
  if (!values.identity?.length) return bad('at least one --identity is required');
  const listen = /^(?:(.+):)?(\d+)$/.exec(values.listen ?? '127.0.0.1:8443');
  const port = Number(listen?.[2]);
  if (!listen || port > 65535) return bad(`--listen must be [HOST:]PORT, not ${values.listen}`);
  const timeout = values['backend-timeout'] === undefined ? 30_000 : Number(values['backend-timeout']);
  if (!Number.isInteger(timeout) || timeout <= 0) return bad(`--backend-timeout must be a positive number of ms, not ${values['backend-timeout']}`);
  const read = (file: string): string => readFileSync(file, 'utf8');
  const identities: { name: string; chainPem: string; keyPem: string }[] = [];
  try {
    for (const spec of values.identity) {
      const m = /^([^=]+)=([^,]+),(.+)$/.exec(spec);
      if (!m) return bad(`--identity must be NAME=CHAIN,KEY, not ${spec}`);
      const chainPem = read(m[2]!);
      const name = m[1]!.toLowerCase();
      if (!new X509Certificate(chainPem).checkHost(name, { subject: 'never' })) return bad(`--identity ${name}: the certificate in ${m[2]} does not cover ${name}`);
      identities.push({ name, chainPem, keyPem: read(m[3]!) });
    }
    const [first, ...others] = identities;
    const routes = values['require-client-cert'] ?? [];
    const options: ProxyOptions = {
      tls: { chainPem: first!.chainPem, keyPem: first!.keyPem },
      identities: others.map((i) => ({ chain: i.chainPem, key: i.keyPem })),
      host: listen[1] ?? '127.0.0.1',
      port,
      backend: values.backend,
      backendProtocol: values['backend-h2'] ? 'h2' : 'http/1.1',
      ...(values['backend-ca'] ? { backendCa: [read(values['backend-ca'])] } : {}),
      ...(values['client-ca'] ? { clientCa: [read(values['client-ca'])] } : {}),
      requiresClientCert: (host, path) => routes.some((r) => routeMatches(r, host, path)),
      binding: !values['no-binding'],
      backendTimeoutMs: timeout,
      h3: values.h3 ?? false,
    };
    if (routes.length > 0 && !options.clientCa) return bad('--require-client-cert needs --client-ca');
    const proxy = await startProxy(options);
    process.stdout.write(`listening on ${options.host}:${proxy.port}\n`);
    if (proxy.h3) process.stdout.write(`HTTP/3 on UDP ${options.host}:${proxy.h3.port}\n`);
    process.stdout.write(`origins: ${identities.map((i) => i.name).join(', ')} (TLS certificate: ${first!.name})\n`);
    process.stdout.write(`backend: ${values.backend} over ${options.backendProtocol}${values.backend.startsWith('https:') && options.binding ? ', with Client-Cert-Binding' : ''}\n`);
    await untilStopped();
    await proxy.close();
    process.stdout.write('stopped\n');
    return 0;
  } catch (e) {
    process.stderr.write(`proxy: cannot start: ${(e as Error).message}\n`);
    return 1;
  }
}
