// What a closed HTTP/3 connection keeps. quiche's connection holds the key log file it writes the
// exporter secret to (one per connection, per side), and only its own destruction closes that file,
// which the native binding leaves to garbage collection; no JavaScript call can close it sooner without
// closing a descriptor quiche will close again later. So: every other descriptor (the client's UDP
// socket) is released at close, the key log files are already gone from the disk, and the one
// descriptor left is released by the next collection even while the application still holds the
// closed connection objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const fixture = new URL('./fixtures/closed-descriptors.js', import.meta.url).pathname;

test('closing HTTP/3 connections releases every descriptor but one key log per connection and side at once, and that one at the next collection though the closed connections are still held', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', fixture, '20'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { n: number; before: number; whileHeld: number; afterClose: number; afterCollection: number };
  // Held: per connection, the client's UDP socket and a key log on each side (the server's socket is shared).
  assert.equal(m.whileHeld - m.before, 3 * m.n, JSON.stringify(m));
  // A collection on its own may already have taken some.
  assert.ok(m.afterClose - m.before <= 2 * m.n, `right after close, only the key logs remain: ${JSON.stringify(m)}`);
  assert.ok(m.afterCollection <= m.before, `after a collection, nothing remains: ${JSON.stringify(m)}`);
});
