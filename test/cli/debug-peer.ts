// Run by debug.test.ts in a child process (NODE_DEBUG is read at startup): a real server and client on
// loopback, HTTP/2 or HTTP/3 (argv[2]), one request for the TLS origin and one for a secondary one.
import { startDemoServer } from '../../src/cli/commands/demo-server.js';
import { SecondaryCertAgent } from '../../src/pool/agent.js';

const protocol = process.argv[2] === 'h3' ? 'h3' : 'h2';
const server = await startDemoServer({ origins: ['a.example', 'b.example'], h3: protocol === 'h3' });
const agent = new SecondaryCertAgent({ protocol, ca: [server.pki.caPem], lookup: async () => ['127.0.0.1'] });
try {
  await agent.request(`https://a.example:${server.port}/`);
  const r = await agent.request(`https://b.example:${server.port}/`);
  process.stdout.write(`status ${r.status} connection #${r.connectionId}\n`);
} finally {
  await agent.close();
  await server.close();
}
