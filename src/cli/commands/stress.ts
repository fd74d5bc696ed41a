import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseCommand, usageError, type CommandOptions } from './args.js';
import { driveH2, driveH3, STRESS_ORIGINS, type StressTarget } from '../stress/drive.js';
import { runAgents, runChurn, runHeld, type ServerProbe } from '../stress/phases.js';
import { fdLimitOf } from '../stress/proc.js';
import { formatResults, judge, type StressResults } from '../stress/report.js';

// `secondary-certs stress` (`npm run stress`): many connections at once, connections cycling for a set
// time, the same over HTTP/3, and the project's agent, against a server of its own (a child process, so
// its memory and descriptors are measured alone) or a given one; a table of failures by kind and of the
// server's memory and descriptors, and the targets each run is judged by. Loopback only: it is a load
// generator, and refuses any other address.

export const STRESS_OPTIONS = {
  levels: { type: 'string' },
  'churn-seconds': { type: 'string' },
  'churn-connections': { type: 'string' },
  'h3-connections': { type: 'string' },
  'agent-connections': { type: 'string' },
  'skip-churn': { type: 'boolean' },
  'skip-h3': { type: 'boolean' },
  'skip-agent': { type: 'boolean' },
  concurrency: { type: 'string' },
  timeout: { type: 'string' },
  ca: { type: 'string' },
  origin: { type: 'string', multiple: true },
  connect: { type: 'string' },
  pid: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies CommandOptions;

export const STRESS_USAGE = `usage: secondary-certs stress [URL] [options]
  drives a server with the extension on loopback: HTTP/2 connections held at once (each validates the
  server's certificates, then requests every origin on that connection), connections cycling for a set
  time, the same over HTTP/3, and the project's agent; prints failures by kind, the server's memory and
  descriptors, and whether the targets hold. Without URL it starts its own server (a child process) with
  six origins: a.example (the TLS certificate) and b.example ... f.example (secondary certificates)
  --levels N,N,...          connections held at once, one level after another (default 100,500,1000)
  --churn-seconds N         how long connections cycle: connect, certificates, requests, close (default 600)
  --churn-connections N     connections cycling at once (default 50)
  --h3-connections N        HTTP/3 connections held at once (default 100)
  --agent-connections N     SecondaryCertAgents, one connection each, held while this process's heap is measured (default 200)
  --skip-churn, --skip-h3, --skip-agent   leave that phase out
  --concurrency N           connects under way at once while a level fills (default 50)
  --timeout MS              per connection: connect, certificates and requests (default 30000)
  --json                    the results as JSON on stdout instead of the tables
 with URL (https://HOST:PORT of a server with the extension, HTTP/3 on the same port over UDP):
  --ca FILE                 trust anchors (PEM) for the server's certificates
  --origin HOST             a further origin to request on each connection, proven by a secondary
                            certificate (repeatable); each connection must receive one certificate per origin
  --connect ADDRESS         the loopback address to connect to, whatever the names resolve to
  --pid PID                 the server's process, to read its memory and descriptors from /proc (else n/a)
  --verbose                 the debug log on stderr (as NODE_DEBUG=secondary-certs); very long here
  -h, --help                this help
progress goes to stderr.
exit status: 0 every target held (0 failures at the largest level; churn RSS slope under 1 MB per 1000
             connections in its second half; client heap after close within 10% of its start; 0 failures
             elsewhere), 1 a target failed (the output says which), 2 usage error
`;

/** A positive integer option, or a message saying what is wrong. */
function count(name: string, value: string | undefined, fallback: number, min = 1): number | string {
  if (value === undefined) return fallback;
  const n = Number(value);
  return value.trim() !== '' && Number.isInteger(n) && n >= min && n <= 100_000 ? n : `--${name} must be a whole number from ${min} to 100000, not ${value}`;
}

function isLoopback(address: string): boolean {
  return isIP(address) === 4 ? address.startsWith('127.') : address === '::1';
}

/** Names resolved by DNS, refused unless every address is loopback. */
async function loopbackLookup(host: string): Promise<string[]> {
  const addresses = isIP(host) !== 0 ? [host] : (await dnsLookup(host, { all: true })).map((a) => a.address);
  const other = addresses.find((a) => !isLoopback(a));
  if (other !== undefined) throw Object.assign(new Error(`${host} resolves to ${other}, not a loopback address: stress drives loopback only`), { code: 'ERR_NOT_LOOPBACK' });
  return addresses;
}

const CHILD = fileURLToPath(new URL('../stress/server-child.js', import.meta.url));

/** The stress server as a child process; resolves once it listens. */
function startServerChild(h3: boolean): Promise<{ child: ChildProcess; port: number; caPem: string; collect: () => Promise<number | undefined> }> {
  // Node raises its own soft descriptor limit to the hard limit at start, so the child needs nothing more.
  const child = spawn(process.execPath, ['--expose-gc', CHILD, ...(h3 ? ['--h3'] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 1;
  const waiting = new Map<number, (heap?: number) => void>();
  child.on('message', (m: { type: string; id?: number; heapUsed?: number }) => {
    if (m.type === 'gc' && m.id !== undefined) waiting.get(m.id)?.(m.heapUsed);
  });
  const collect = (): Promise<number | undefined> =>
    new Promise((resolve) => {
      const id = nextId++;
      const timer = setTimeout(done, 5000);
      function done(heap?: number): void {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(heap);
      }
      waiting.set(id, done);
      if (!child.connected) return done();
      child.send({ type: 'gc', id }, (e) => {
        if (e) done();
      });
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('the stress server did not start within 30 s'));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the stress server exited (${code}) before it was ready`));
    });
    child.on('message', (m: { type: string; port?: number; caPem?: string }) => {
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      resolve({ child, port: m.port as number, caPem: m.caPem as string, collect });
    });
  });
}

export async function stressCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand('stress', argv, STRESS_OPTIONS, STRESS_USAGE, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const bad = (m: string): number => usageError('stress', STRESS_USAGE, m);
  if (positionals.length > 1) return bad(`one URL at most, not ${positionals.length}`);
  const levels = (values.levels ?? '100,500,1000').split(',').map((s) => count('levels', s.trim(), 0));
  const numbers = {
    churnSeconds: count('churn-seconds', values['churn-seconds'], 600),
    churnConnections: count('churn-connections', values['churn-connections'], 50),
    h3: count('h3-connections', values['h3-connections'], 100),
    agents: count('agent-connections', values['agent-connections'], 200),
    concurrency: count('concurrency', values.concurrency, 50),
    timeout: count('timeout', values.timeout, 30_000, 100),
  };
  const problem = [...levels, ...Object.values(numbers)].find((v): v is string => typeof v === 'string');
  if (problem) return bad(problem);
  const n = numbers as Record<keyof typeof numbers, number>;
  const levelCounts = levels as number[];
  const url = positionals[0];
  if (url === undefined && (values.ca || values.origin || values.connect || values.pid)) return bad('--ca, --origin, --connect and --pid go with a URL');
  let target: URL | undefined;
  if (url !== undefined) {
    try {
      target = new URL(url);
    } catch {
      return bad(`not a URL: ${url}`);
    }
    if (target.protocol !== 'https:') return bad(`an https URL, not ${url}`);
    if (values.connect !== undefined && !isLoopback(values.connect)) return bad(`--connect must be a loopback address (127.0.0.0/8 or ::1), not ${values.connect}`);
    if (!values.ca) return bad('--ca FILE is needed with a URL');
  }
  const pid = values.pid === undefined ? undefined : count('pid', values.pid, 0);
  if (typeof pid === 'string') return bad(pid);

  // Descriptors: each connection held costs one here and one in the server (two with our own server).
  const notes: string[] = [];
  const largest = Math.max(...levelCounts, values['skip-h3'] ? 0 : n.h3, values['skip-agent'] ? 0 : n.agents, values['skip-churn'] ? 0 : n.churnConnections);
  const needed = largest + 512;
  const own = fdLimitOf('self');
  // Node has already raised its soft limit to the hard one; past that only a privileged process can go.
  if (own && own.soft < needed) notes.push(`this process may open ${own.soft} descriptors (its hard limit is ${own.hard}), fewer than the ${needed} the run needs, and an unprivileged process cannot raise it: expect dial failures (EMFILE); raise it with ulimit -Hn as root`);

  const progress = (line: string): void => {
    if (!values.json || process.stderr.isTTY) process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
  };
  const endProgress = (): void => {
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  };

  let server: Awaited<ReturnType<typeof startServerChild>> | undefined;
  let stopServer: (() => Promise<void>) | undefined;
  let stressTarget: StressTarget;
  let probe: ServerProbe;
  const results: StressResults = { server: { measured: false, note: '' }, client: {}, notes, levels: [] };
  if (target === undefined) {
    server = await startServerChild(!values['skip-h3']);
    let stopping = false;
    server.child.once('exit', (code, signal) => {
      if (!stopping) notes.push(`the stress server exited during the run (${signal ?? `status ${code}`}): the failures after that are its absence`);
    });
    stopServer = async () => {
      stopping = true;
      const child = (server as { child: ChildProcess }).child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      if (child.connected) child.disconnect();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise((r) => (timer = setTimeout(() => r('late'), 5000)));
      if ((await Promise.race([exited, late])) === 'late') child.kill('SIGKILL');
      clearTimeout(timer);
    };
    const serverPid = server.child.pid;
    probe = { pid: serverPid, collect: server.collect };
    const limit = serverPid === undefined ? undefined : fdLimitOf(serverPid);
    if (limit && limit.soft < needed) notes.push(`the server may open ${limit.soft} descriptors, fewer than the ${needed} the run needs (hard limit ${limit.hard})`);
    results.server = { ...(serverPid !== undefined ? { pid: serverPid } : {}), measured: serverPid !== undefined, note: `pid ${serverPid}, its own process; after a full collection`, ...(limit ? { fdLimit: limit.soft } : {}) };
    stressTarget = {
      url: new URL(`https://${STRESS_ORIGINS[0]}:${server.port}`),
      origins: STRESS_ORIGINS,
      certificates: STRESS_ORIGINS.length - 1,
      ca: [server.caPem],
      // Every *.example name is this machine: the DNS check of a secondary certificate passes on loopback.
      lookup: async (host) => {
        if (!host.endsWith('.example')) throw Object.assign(new Error(`${host} is not one of the stress server's names`), { code: 'ENOTFOUND' });
        return ['127.0.0.1'];
      },
      timeoutMs: n.timeout,
    };
  } else {
    let ca: string;
    try {
      ca = readFileSync(values.ca as string, 'utf8');
    } catch (e) {
      return bad(`cannot read --ca ${values.ca}: ${(e as Error).message}`);
    }
    const extra = (values.origin ?? []).map((o) => (o.includes('://') ? new URL(o).hostname : o).toLowerCase());
    const connectAddress = values.connect;
    stressTarget = {
      url: target,
      origins: [target.hostname, ...extra],
      certificates: extra.length,
      ca: [ca],
      lookup: connectAddress ? async () => [connectAddress] : loopbackLookup,
      ...(connectAddress ? { connectAddress } : {}),
      timeoutMs: n.timeout,
    };
    if (!connectAddress) {
      try {
        await loopbackLookup(target.hostname);
      } catch (e) {
        return bad((e as Error).message);
      }
    }
    probe = { pid };
    const limit = pid === undefined ? undefined : fdLimitOf(pid);
    results.server = { ...(pid !== undefined ? { pid } : {}), measured: pid !== undefined, note: pid === undefined ? 'not available: give --pid PID' : `pid ${pid}; no collection asked of it`, ...(limit ? { fdLimit: limit.soft } : {}) };
  }
  const ownLimit = fdLimitOf('self');
  if (ownLimit) results.client.fdLimit = ownLimit.soft;
  const header = `secondary-certs stress: ${stressTarget.url.origin}, ${stressTarget.origins.length} origins (${stressTarget.certificates} by secondary certificate) per connection; descriptor limits: this process ${ownLimit?.soft ?? 'unknown'}, server ${results.server.fdLimit ?? 'unknown'}`;
  progress(header);
  if (process.stderr.isTTY) process.stderr.write('\n');

  const budgetMs = 5 * 60_000;
  try {
    for (const connections of levelCounts) {
      results.levels.push(await runHeld({ label: `HTTP/2 x${connections}`, connections, drive: driveH2, target: stressTarget, concurrency: n.concurrency, budgetMs, probe, progress }));
    }
    if (!values['skip-churn']) {
      results.churn = await runChurn({ workers: n.churnConnections, seconds: n.churnSeconds, drive: driveH2, target: stressTarget, probe, progress });
    }
    if (!values['skip-h3']) {
      results.h3 = await runHeld({ label: `HTTP/3 x${n.h3}`, connections: n.h3, drive: driveH3, target: stressTarget, concurrency: Math.min(n.concurrency, 20), budgetMs, probe, progress });
    }
    if (!values['skip-agent']) {
      results.agent = await runAgents({ agents: n.agents, target: stressTarget, concurrency: n.concurrency, budgetMs, progress });
    }
  } finally {
    endProgress();
    await stopServer?.();
  }
  const targets = judge(results);
  if (values.json) process.stdout.write(JSON.stringify({ ...results, targets }, null, 2) + '\n');
  else process.stdout.write(`${header}\n${formatResults(results, targets)}`);
  const failed = targets.filter((t) => t.verdict === 'failed');
  if (failed.length > 0 && !values.json) process.stdout.write(`\n${failed.length} target(s) failed: ${failed.map((t) => t.name).join('; ')}\n`);
  return failed.length > 0 ? 1 : 0;
}
