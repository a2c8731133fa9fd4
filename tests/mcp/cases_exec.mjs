// `corral exec` with and without upstreams, and `--types`.
import fs from 'node:fs';
import path from 'node:path';
import { test, assert, eq, includes, excludes, runCorral, fsCommand, memCommand, NODE, FS_SERVER, MEM_SERVER } from './lib.mjs';

function parse(r) {
  try { return JSON.parse(r.stdout); } catch { throw new Error(`stdout is not one JSON object: ${r.stdout.slice(0, 300)} (stderr: ${r.stderr.slice(0, 300)})`); }
}

test('exec: a result, undefined, a thrown non-Error, logs', async () => {
  const a = await runCorral(['exec', 'return 1 + 1']);
  eq(a.code, 0, 'exit status');
  eq(parse(a), { result: 2, logs: [] }, 'output');
  const b = await runCorral(['exec', 'async () => { console.log("only a log"); }']);
  eq(b.code, 0, 'exit status');
  const bv = parse(b);
  assert(!('result' in bv), `result must be absent: ${b.stdout}`);
  eq(bv.logs.length, 1, 'logs');
  includes(bv.logs[0], 'only a log', 'log line');
  const c = await runCorral(['exec', 'async () => { throw { code: 7 }; }']);
  eq(c.code, 1, 'exit status of a thrown object');
  includes(parse(c).error, '7', 'error names the thrown value');
});

test('exec: @FILE and - (stdin)', async (ctx) => {
  const f = path.join(ctx.dir, 'prog.js');
  fs.writeFileSync(f, 'async () => ["from", "file"].join(" ")');
  eq(parse(await runCorral(['exec', '@' + f])).result, 'from file', '@FILE');
  eq(parse(await runCorral(['exec', '-'], { input: 'async () => "from stdin"' })).result, 'from stdin', 'stdin');
});

test('exec: --upstream fs runs a multi-step program', async (ctx) => {
  const r = await runCorral(['exec', '--upstream', `fs=${fsCommand(ctx.dir)}`, `async () => {
    const txt = (r) => typeof r === 'string' ? r : r.content;
    for (const n of ['a', 'b', 'c']) await codemode.write_file({ path: ${JSON.stringify(ctx.dir)} + '/' + n, content: n.toUpperCase() });
    let s = '';
    for (const n of ['a', 'b', 'c']) s += txt(await fs.read_text_file({ path: ${JSON.stringify(ctx.dir)} + '/' + n }));
    return s;
  }`]);
  eq(r.code, 0, `exit status (stderr: ${r.stderr.slice(0, 300)})`);
  eq(parse(r).result, 'ABC', 'result');
});

test('exec: an upstream error makes error set and exit 1', async (ctx) => {
  const r = await runCorral(['exec', '--upstream', `fs=${fsCommand(ctx.dir)}`, `async () => codemode.read_text_file({ path: '/etc/hostname' })`]);
  eq(r.code, 1, 'exit status');
  includes(parse(r).error, 'Access denied', 'error');
});

test('exec: --types prints the declarations (one upstream, then two)', async (ctx) => {
  const one = await runCorral(['exec', '--upstream', `fs=${fsCommand(ctx.dir)}`, '--types']);
  eq(one.code, 0, `exit status (stderr: ${one.stderr.slice(0, 300)})`);
  includes(one.stdout, 'declare const codemode', '--types');
  includes(one.stdout, 'read_text_file', '--types');
  includes(one.stdout, 'list_allowed_directories', '--types');
  const two = await runCorral(['exec', '--upstream', `fs=${fsCommand(ctx.dir)}`, '--upstream', `memory=${memCommand()}`, '--types'],
    { env: { MEMORY_FILE_PATH: path.join(ctx.dir, 'm.jsonl') } });
  eq(two.code, 0, `exit status (stderr: ${two.stderr.slice(0, 300)})`);
  includes(two.stdout, 'declare const fs', '--types');
  includes(two.stdout, 'declare const memory', '--types');
  includes(two.stdout, 'create_entities', '--types');
  excludes(two.stdout, 'declare const codemode', 'two upstreams are declared under their own names');
});

test('exec: -c FILE with two servers', async (ctx) => {
  const cfg = path.join(ctx.dir, 'mcp.json');
  fs.writeFileSync(cfg, JSON.stringify({ mcpServers: {
    fs: { command: NODE, args: [FS_SERVER, ctx.dir] },
    memory: { command: NODE, args: [MEM_SERVER], env: { MEMORY_FILE_PATH: path.join(ctx.dir, 'mem.jsonl') } },
  } }));
  const r = await runCorral(['exec', '-c', cfg, `async () => {
    await memory.create_entities({ entities: [{ name: 'x', entityType: 'y', observations: [] }] });
    const d = await fs.list_allowed_directories({});
    return { entities: (await memory.read_graph({})).entities.length, dirs: typeof d === 'string' ? d : d.content };
  }`]);
  eq(r.code, 0, `exit status (stderr: ${r.stderr.slice(0, 300)})`);
  const v = parse(r).result;
  eq(v.entities, 1, 'entities');
  includes(v.dirs, ctx.dir, 'dirs');
});
