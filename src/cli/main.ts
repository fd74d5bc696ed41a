#!/usr/bin/env node
// The `secondary-certs` command. Each subcommand lives in its own module, loaded on demand so that
// `vectors` does not pay for HTTP/2 or certificate generation.

const USAGE = `usage: secondary-certs <command> [options]     (secondary-certs <command> --help for more)

commands:
  demo [--rtt MS]              one TLS connection proves three origins; then the same without the extension,
                               at a simulated round-trip time (default 20 ms, --rtt 0 for none); then HTTP/3
  serve [--port N] [--host ADDRESS] [--origins a.example,b.example,...] [--ca-out FILE] [--h3]
        [--idle-timeout MS] [--handshake-timeout MS] [--send-timeout MS] [--max-buffered-bytes N]
                               a server with secondary certificates, for other implementations to test;
                               the test CA goes to a new temporary folder unless --ca-out says where
  vectors FILE...              run RFC 9261 vector files with both crypto providers
  check [--h3] https://HOST:PORT [--ca FILE] [--insecure] [--origin ORIGIN ...] [--options-star ORIGIN ...]
        [--connect ADDRESS] [--timeout MS] [--wait MS] [--probe] [--setting N] [--frame-type N]
        [--error-code N] [--profile FILE] [--json]
                               check a server's secondary certificates against the draft and RFC 9261
                               (HTTP/2; --h3: HTTP/3 over QUIC); --probe also sends what it must reject
  stress [URL] [--levels N,N,...] [--churn-seconds N] [--churn-connections N] [--h3-connections N]
         [--agent-connections N] [--skip-churn] [--skip-h3] [--skip-agent] [--concurrency N] [--timeout MS]
         [--ca FILE] [--origin HOST ...] [--connect ADDRESS] [--pid PID] [--json]
                               many connections on loopback, held and cycling, over HTTP/2 and HTTP/3:
                               failures by kind, the server's memory and descriptors, the client's heap
  proxy --backend URL --identity NAME=CHAIN,KEY ... [--listen [HOST:]PORT] [--client-ca FILE]
        [--require-client-cert ROUTE ...] [--backend-h2] [--backend-ca FILE] [--no-binding] [--backend-timeout MS] [--h3]
                               a TLS-terminating reverse proxy: proves its origins with secondary certificates
                               and forwards client identities (RFC 9440 Client-Cert, bound to its TLS hop)

every command takes:
  --verbose                    the debug log on stderr: extension frames, SETTINGS, authority decisions
                               (the same as NODE_DEBUG=secondary-certs)
  -h, --help                   the command's own help: its options and exit status
exit status: 0 success, 1 failure, 2 usage error (check: also 3 no extension, 4 unreachable)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'vectors':
      return (await import('./commands/vectors.js')).vectorsCommand(args);
    case 'demo':
      return (await import('./commands/demo.js')).demoCommand(args);
    case 'serve':
      return (await import('./commands/serve.js')).serveCommand(args);
    case 'check':
      return (await import('./commands/check.js')).checkCommand(args);
    case 'stress':
      return (await import('./commands/stress.js')).stressCommand(args);
    case 'proxy':
      return (await import('./commands/proxy.js')).proxyCommand(args);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`secondary-certs: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`secondary-certs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
