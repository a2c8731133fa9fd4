// Overhead of a tool call made through `corral mcp` (code mode) against the
// same call made directly by an MCP SDK client to the upstream, both over
// stdio, same upstream server. Prints markdown tables; asserts nothing.
//
//   node bench/mcp/overhead.mjs CORRAL_BIN [--iterations N] [--upstream memory|fs|fake|both|all]
//                                          [--isolation pool|tenant|process|inline]
//
// `fake` is tests/mcp/fake_upstream (C, answers at once): with the upstream's
// own time near zero, its rows show what the client and corral themselves
// cost per call. `both` is memory and fs; `all` adds fake.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, StdioClientTransport } from '../../tests/mcp/sdk.mjs';
import { NODE, FS_SERVER, MEM_SERVER } from '../../tests/mcp/lib.mjs';

const args = process.argv.slice(2);
const OPTION_VALUES = ['memory', 'fs', 'fake', 'both', 'all', 'pool', 'tenant', 'process', 'inline'];
const CORRAL = path.resolve(args.find(a => !a.startsWith('--') && !/^\d+$/.test(a) && !OPTION_VALUES.includes(a)) || 'build/release/corral');
const FAKE = path.join(path.dirname(CORRAL), 'tests/mcp/fake_upstream');
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const N = Number(opt('--iterations', 200));
const WHICH = opt('--upstream', 'both');
const ISOLATION = opt('--isolation', null);

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const ms = (x) => x.toFixed(3);

async function connect(command, cmdArgs, env) {
  const c = new Client({ name: 'corral-bench', version: '1.0.0' });
  await c.connect(new StdioClientTransport({ command, args: cmdArgs, env: { ...process.env, ...env }, stderr: 'ignore' }));
  return c;
}

// Times `fn` `n` times after `warm` warm-up runs; returns the samples in ms.
async function sample(n, fn, warm = Math.min(20, n)) {
  for (let i = 0; i < warm; i++) await fn();
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

function checkOk(r) {
  if (r.isError) throw new Error(`call failed: ${JSON.stringify(r.content).slice(0, 300)}`);
  return r;
}

async function benchUpstream(label, upstreamArgs, env, call, command = NODE) {
  const direct = await connect(command, upstreamArgs, env);
  const isolation = ISOLATION ? ['--isolation', ISOLATION] : [];
  const cm = await connect(CORRAL, ['mcp', ...isolation, '--upstream', `u=${[command, ...upstreamArgs].join(' ')}`], env);
  const code = (k) => `async () => { let r; for (let i = 0; i < ${k}; i++) r = await codemode.${call.name}(${JSON.stringify(call.arguments)}); return ${k} ? 'ok' : 'none'; }`;
  const runCode = (src) => cm.callTool({ name: 'code', arguments: { code: src } }).then(checkOk);
  const oneDirect = () => direct.callTool(call).then(checkOk);

  const rounds = Math.max(10, Math.floor(N / 10));
  const d1 = await sample(N, oneDirect);
  const c0 = await sample(N, () => runCode(code(0)));
  const c1 = await sample(N, () => runCode(code(1)));
  const d20 = await sample(rounds, async () => { for (let i = 0; i < 20; i++) await oneDirect(); }, 3);
  const c20 = await sample(rounds, () => runCode(code(20)), 3);
  const c1x20 = await sample(rounds, async () => { for (let i = 0; i < 20; i++) await runCode(code(1)); }, 3);
  await direct.close();
  await cm.close();

  const p = (xs) => pct(xs, 0.5);
  const perCallCm = (p(c20) - p(c0)) / 20;
  console.log(`\n### ${label}: \`${call.name}\` (p50 of ${N} runs; 20-call rows p50 of ${rounds})\n`);
  console.log('| measure | direct SDK client → upstream | through corral code mode | code mode / direct |');
  console.log('|---|---:|---:|---:|');
  console.log(`| 1 tool call, end to end (ms) | ${ms(p(d1))} | ${ms(p(c1))} | ${(p(c1) / p(d1)).toFixed(2)}× |`);
  console.log(`| program with no tool call (ms) | – | ${ms(p(c0))} | – |`);
  console.log(`| each added tool call inside a program (ms) | ${ms(p(d1))} | ${ms(perCallCm)} | ${(100 * (perCallCm / p(d1) - 1)).toFixed(1)} % added |`);
  console.log(`| 20 sequential calls: 20 round trips vs one program (ms) | ${ms(p(d20))} | ${ms(p(c20))} | ${(p(c20) / p(d20)).toFixed(2)}× |`);
  console.log(`| 20 sequential calls: 20 code-mode round trips (1 call each) vs one program (ms) | – | ${ms(p(c1x20))} → ${ms(p(c20))} | ${(p(c20) / p(c1x20)).toFixed(2)}× |`);
  console.log(`| p90: 1 call (ms) | ${ms(pct(d1, 0.9))} | ${ms(pct(c1, 0.9))} | |`);
}

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-mcp-bench-')));
try {
  console.log(`corral: ${CORRAL} (isolation: ${ISOLATION ?? 'the default'})\nnode ${process.version}, ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`);
  const want = (name) => WHICH === name || WHICH === 'all' || (WHICH === 'both' && name !== 'fake');
  if (want('memory')) {
    const env = { MEMORY_FILE_PATH: path.join(tmp, 'memory.jsonl') };
    const seed = await connect(NODE, [MEM_SERVER], env);
    await seed.callTool({ name: 'create_entities', arguments: { entities: ['alpha', 'beta', 'gamma'].map(n => ({ name: n, entityType: 'thing', observations: [`${n} is a thing`] })) } });
    await seed.close();
    await benchUpstream('server-memory', [MEM_SERVER], env, { name: 'open_nodes', arguments: { names: ['alpha'] } });
  }
  if (want('fake')) {
    if (!fs.existsSync(FAKE)) throw new Error(`${FAKE} not built (make tests)`);
    await benchUpstream('fake_upstream (C, answers at once)', [], {}, { name: 'echo', arguments: { text: 'hi' } }, FAKE);
  }
  if (want('fs')) {
    fs.writeFileSync(path.join(tmp, 'small.txt'), 'hello from a small file\n');
    await benchUpstream('server-filesystem', [FS_SERVER, tmp], {}, { name: 'read_text_file', arguments: { path: path.join(tmp, 'small.txt') } });
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
