// Shared harness for the corral mcp / corral exec end-to-end tests: a tiny
// case registry and runner, and helpers that start `corral mcp` (stdio or
// streamable HTTP) and connect the official MCP SDK client to it.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const NODE = process.execPath;
export const FS_SERVER = path.join(HERE, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
export const MEM_SERVER = path.join(HERE, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
export const FIXTURES = path.join(HERE, 'fixtures');
export const CORRAL = path.resolve(process.env.CORRAL || process.argv[2] || 'build/release/corral');

// The command line of an upstream, as `--upstream NAME=COMMAND` takes it.
export const fsCommand = (dir) => `${NODE} ${FS_SERVER} ${dir}`;
export const memCommand = () => `${NODE} ${MEM_SERVER}`;

// ---------------------------------------------------------------- registry

const cases = [];
export function test(name, fn, { timeoutMs = 60000 } = {}) {
  cases.push({ name, fn, timeoutMs });
}

export class AssertionError extends Error {}
export function assert(cond, msg) {
  if (!cond) throw new AssertionError(msg || 'assertion failed');
}
export function eq(got, want, msg) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new AssertionError(`${msg ? msg + ': ' : ''}got ${g}, want ${w}`);
}
export function includes(hay, needle, msg) {
  if (typeof hay !== 'string' || !hay.includes(needle))
    throw new AssertionError(`${msg ? msg + ': ' : ''}${JSON.stringify(needle)} not in ${JSON.stringify(String(hay).slice(0, 600))}`);
}
export function excludes(hay, needle, msg) {
  if (typeof hay === 'string' && hay.includes(needle))
    throw new AssertionError(`${msg ? msg + ': ' : ''}${JSON.stringify(needle)} must not appear in ${JSON.stringify(hay.slice(0, 600))}`);
}

// Per-case context: a private temp dir, deferred cleanups, a log shown on failure.
class Ctx {
  constructor(name) {
    this.name = name;
    this.dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-mcp-e2e-')));
    this.cleanups = [];
    this.logText = '';
  }
  defer(fn) { this.cleanups.push(fn); }
  log(s) { this.logText += String(s); if (this.logText.length > 20000) this.logText = this.logText.slice(-20000); }
  async cleanup() {
    for (const fn of this.cleanups.reverse()) {
      try { await withTimeout(Promise.resolve().then(fn), 5000, 'cleanup'); } catch { /* best effort */ }
    }
    // Anything still running that was started on this case's dir (orphaned upstreams).
    for (const pid of pidsMatching(this.dir)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`hang guard: ${what} took over ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

export async function runAll() {
  const only = process.env.CASES ? new RegExp(process.env.CASES) : null;
  let passed = 0, failed = 0;
  for (const c of cases) {
    if (only && !only.test(c.name)) continue;
    const ctx = new Ctx(c.name);
    try {
      await withTimeout(c.fn(ctx), c.timeoutMs, c.name);
      passed++;
      console.log(`ok   ${c.name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${c.name}: ${String(e && e.message ? e.message : e).replace(/\s*\n\s*/g, ' | ').slice(0, 1000)}`);
      if (!(e instanceof AssertionError) && e && e.stack && process.env.VERBOSE) console.log(e.stack);
      if (ctx.logText && process.env.VERBOSE !== '0') {
        console.log(ctx.logText.trimEnd().split('\n').slice(-12).map(l => '     | ' + l).join('\n'));
      }
    }
    await ctx.cleanup();
  }
  console.log(`cases: ${passed} passed, ${failed} failed`);
  return failed;
}

// ---------------------------------------------------------------- processes

// Pids of processes whose command line contains `needle`, leaving out this
// test process and every corral process (whose own argv names the dir too).
export function pidsMatching(needle, { exceptCorral = true } = {}) {
  let out = '';
  try { out = execFileSync('pgrep', ['-f', '--', needle], { encoding: 'utf8' }); } catch { return []; }
  return out.split('\n').filter(Boolean).map(Number).filter(pid => {
    if (pid === process.pid) return false;
    let argv = [];
    try { argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { return false; }
    // corral itself, or an interpreter running a script named corral
    if (exceptCorral && argv.slice(0, 2).some(a => path.basename(a) === 'corral')) return false;
    return true;
  });
}

export const sleep = (ms) => new Promise(r => setTimeout(r, ms));

export async function waitFor(pred, { timeoutMs = 10000, stepMs = 25, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new AssertionError(`hang guard: ${what} not reached within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

// ---------------------------------------------------------------- corral mcp

function newClient() {
  return new Client({ name: 'corral-e2e', version: '1.0.0' }, { capabilities: {} });
}

// Starts `corral mcp ARGS` and connects an SDK client over `transport`
// ('stdio' or 'http'). Returns {client, pid, url?}.
export async function startCorral(ctx, { transport = 'stdio', args = [], env = {}, headers, connect = true } = {}) {
  const fullEnv = { ...process.env, ...env };
  if (transport === 'stdio') {
    const tr = new StdioClientTransport({ command: CORRAL, args: ['mcp', ...args], env: fullEnv, stderr: 'pipe', cwd: ctx.dir });
    tr.stderr?.on('data', d => ctx.log(d));
    const client = newClient();
    ctx.defer(() => client.close());
    await withTimeout(client.connect(tr), 20000, 'connect over stdio');
    return { client, pid: tr.pid, transport: tr };
  }
  const child = spawn(CORRAL, ['mcp', '--http', '127.0.0.1:0', ...args], { env: fullEnv, cwd: ctx.dir, stdio: ['pipe', 'ignore', 'pipe'] });
  ctx.defer(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([new Promise(r => child.once('exit', r)), sleep(2000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = await withTimeout(new Promise((resolve, reject) => {
    let buf = '';
    child.stderr.on('data', d => {
      ctx.log(d);
      buf += d;
      const m = /corral mcp: listening on (http:\/\/\S+\/mcp)/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code, sig) => reject(new Error(`corral mcp --http exited (${code ?? sig}) before listening: ${buf.slice(-400)}`)));
    child.once('error', reject);
  }), 20000, 'the "listening on" line');
  if (!connect) return { pid: child.pid, url, child };
  const client = newClient();
  const tr = new StreamableHTTPClientTransport(new URL(url), headers ? { requestInit: { headers } } : {});
  ctx.defer(() => client.close());
  await withTimeout(client.connect(tr), 20000, 'connect over HTTP');
  return { client, pid: child.pid, url, child, transport: tr };
}

// Runs a program through the `code` tool.
export function callCode(client, code, { tool = 'code', timeout = 30000, ...opts } = {}) {
  return client.callTool({ name: tool, arguments: { code } }, undefined, { timeout, ...opts });
}

export function text(res, i = 0) {
  const item = res && res.content && res.content[i];
  return item && item.type === 'text' ? item.text : undefined;
}

// The value a successful call returned: JSON when the text is JSON.
export function value(res) {
  if (res.isError) throw new AssertionError(`tool call failed: ${JSON.stringify(res.content).slice(0, 800)}`);
  const t = text(res);
  try { return JSON.parse(t); } catch { return t; }
}

export function allText(res) {
  return (res.content || []).map(c => c.text ?? '').join('\n');
}

// Spawns `corral ARGS`, returns {code, stdout, stderr}.
export function runCorral(args, { env = {}, input, timeoutMs = 30000, cwd } = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const child = spawn(CORRAL, args, { env: { ...process.env, ...env }, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', d => { stdout += d; });
    child.stderr.on('data', d => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  }), timeoutMs, `corral ${args[0]}`);
}
