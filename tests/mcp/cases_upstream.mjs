// `corral mcp` in upstream mode, wrapping the real server-filesystem and
// server-memory, driven by the SDK client over stdio and over streamable HTTP.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  test, assert, eq, includes, excludes, startCorral, callCode, text, value, allText,
  fsCommand, memCommand, pidsMatching, sleep, waitFor, NODE, FS_SERVER, MEM_SERVER, withTimeout, CORRAL,
} from './lib.mjs';

// server-filesystem answers with structuredContent {content: "..."}; the
// programs accept either that or a plain string.
const TXT = `const txt = (r) => typeof r === 'string' ? r : r.content;`;

const fsArgs = (ctx) => ['--upstream', `fs=${fsCommand(ctx.dir)}`];
const memEnv = (ctx) => ({ MEMORY_FILE_PATH: path.join(ctx.dir, 'memory.jsonl') });

for (const transport of ['stdio', 'http']) {
  const T = (name, fn, opts) => test(`${transport}: ${name}`, fn, opts);

  T('lists exactly one tool, code, with the declarations', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const { tools } = await client.listTools();
    eq(tools.map(t => t.name), ['code'], 'tool names');
    const [code] = tools;
    eq(code.inputSchema.type, 'object', 'inputSchema.type');
    eq(code.inputSchema.properties?.code?.type, 'string', 'inputSchema.properties.code.type');
    includes(code.description, 'declare const codemode', 'description');
    includes(code.description, 'read_text_file', 'description');
    includes(code.description, 'write_file', 'description');
  });

  T('writes twenty files and reads them back in one program', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const res = await callCode(client, `async () => {
      ${TXT}
      for (let i = 0; i < 20; i++) {
        await codemode.write_file({ path: ${JSON.stringify(ctx.dir)} + '/f' + i + '.txt', content: 'file number ' + i });
      }
      const back = [];
      for (let i = 0; i < 20; i++) {
        back.push(txt(await codemode.read_text_file({ path: ${JSON.stringify(ctx.dir)} + '/f' + i + '.txt' })));
      }
      return back;
    }`);
    const got = value(res);
    eq(got, Array.from({ length: 20 }, (_, i) => `file number ${i}`), 'read back');
    for (let i = 0; i < 20; i++) eq(fs.readFileSync(path.join(ctx.dir, `f${i}.txt`), 'utf8'), `file number ${i}`, `f${i}.txt on disk`);
  });

  T('conditionals over directory contents, via the NAME namespace too', async (ctx) => {
    fs.writeFileSync(path.join(ctx.dir, 'keep.md'), '# keep');
    fs.writeFileSync(path.join(ctx.dir, 'skip.log'), 'noise');
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const res = await callCode(client, `async () => {
      ${TXT}
      const listing = txt(await fs.list_directory({ path: ${JSON.stringify(ctx.dir)} }));
      const names = listing.split('\\n').filter(Boolean).map(l => l.replace(/^\\[(FILE|DIR)\\]\\s*/, ''));
      const out = {};
      for (const n of names) {
        if (n.endsWith('.md')) {
          const body = txt(await codemode.read_text_file({ path: ${JSON.stringify(ctx.dir)} + '/' + n }));
          out[n] = body.startsWith('#') ? 'heading' : 'prose';
        } else if (n.endsWith('.log')) {
          out[n] = 'skipped';
        } else {
          out[n] = 'other';
        }
      }
      if (!names.includes('made.txt')) {
        await fs.write_file({ path: ${JSON.stringify(ctx.dir)} + '/made.txt', content: 'made because missing' });
      }
      return out;
    }`);
    eq(value(res), { 'keep.md': 'heading', 'skip.log': 'skipped' }, 'result');
    eq(fs.readFileSync(path.join(ctx.dir, 'made.txt'), 'utf8'), 'made because missing', 'made.txt');
  });

  T('builds and queries a knowledge graph with server-memory', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: ['--upstream', `memory=${memCommand()}`], env: memEnv(ctx) });
    const { tools } = await client.listTools();
    includes(tools[0].description, 'create_entities', 'description');
    const res = await callCode(client, `async () => {
      const people = ['Ada', 'Grace', 'Linus', 'Ken', 'Dennis'];
      await codemode.create_entities({ entities: people.map((p, i) => ({
        name: p, entityType: 'person', observations: ['index ' + i, i % 2 ? 'odd' : 'even'] })) });
      await memory.create_entities({ entities: [{ name: 'Unix', entityType: 'system', observations: ['1969'] }] });
      const rel = [];
      for (const p of people) if (p === 'Ken' || p === 'Dennis') rel.push({ from: p, to: 'Unix', relationType: 'created' });
      await codemode.create_relations({ relations: rel });
      const graph = await codemode.read_graph({});
      const found = await memory.search_nodes({ query: 'odd' });
      return {
        entities: graph.entities.length,
        relations: graph.relations.map(r => r.from + '->' + r.to).sort(),
        odd: found.entities.map(e => e.name).sort(),
      };
    }`);
    eq(value(res), { entities: 6, relations: ['Dennis->Unix', 'Ken->Unix'], odd: ['Grace', 'Ken'] }, 'graph');
  });

  T('an upstream tool error is catchable, and uncaught becomes isError', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const caught = await callCode(client, `async () => {
      try { await codemode.read_text_file({ path: '/etc/passwd' }); return 'no error'; }
      catch (e) { return { isError: e instanceof Error, message: e.message }; }
    }`);
    const v = value(caught);
    eq(v.isError, true, 'caught value is an Error');
    includes(v.message, 'Access denied', 'caught message');
    const uncaught = await callCode(client, `async () => {
      await codemode.read_text_file({ path: ${JSON.stringify(ctx.dir)} + '/does-not-exist.txt' });
      return 'unreachable';
    }`);
    eq(uncaught.isError, true, 'isError');
    assert(text(uncaught).startsWith('Error: '), `text starts with "Error: ": ${text(uncaught)}`);
    includes(text(uncaught), 'does-not-exist.txt', 'error message');
  });

  T('an upstream killed mid-program gives a clear error; later calls work', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const marker = path.join(ctx.dir, 'marker.txt');
    const running = callCode(client, `async () => {
      ${TXT}
      await codemode.write_file({ path: ${JSON.stringify(marker)}, content: 'started' });
      await new Promise((r) => setTimeout(r, 1000));
      try {
        const r = txt(await codemode.read_text_file({ path: ${JSON.stringify(marker)} }));
        return { ok: r };
      } catch (e) { return { error: e.message }; }
    }`);
    // Kill the filesystem upstream (and any restarted one) until the program has returned.
    await waitFor(() => fs.existsSync(marker), { what: 'the marker file' });
    let done = false, kills = 0;
    running.then(() => { done = true; }, () => { done = true; });
    const stopKilling = Date.now() + 5000;
    while (!done && Date.now() < stopKilling) {
      for (const pid of pidsMatching(ctx.dir)) { try { process.kill(pid, 'SIGKILL'); kills++; } catch { /* gone */ } }
      await sleep(15);
    }
    assert(kills > 0, 'no upstream process found to kill');
    const got = value(await running);
    assert(typeof got.error === 'string' && got.error.length > 0, `expected an error from the dead upstream, got ${JSON.stringify(got)}`);
    // A later call works once corral has restarted the upstream.
    let last;
    await waitFor(async () => {
      last = await callCode(client, `async () => (await codemode.list_allowed_directories({}))`);
      return !last.isError;
    }, { timeoutMs: 20000, stepMs: 250, what: 'a working call after the upstream restarted' });
    includes(allText(last), ctx.dir, 'allowed directories after restart');
  });

  T('cancellation stops the program and the server stays usable', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const ac = new AbortController();
    const running = callCode(client, `async () => {
      for (let i = 0; ; i++) {
        await codemode.write_file({ path: ${JSON.stringify(ctx.dir)} + '/tick-' + i, content: String(i) });
        await new Promise((r) => setTimeout(r, 20));
      }
    }`, { signal: ac.signal });
    running.catch(() => {});
    const ticks = () => fs.readdirSync(ctx.dir).filter(n => n.startsWith('tick-')).length;
    await waitFor(() => ticks() >= 3, { what: 'the program to start writing' });
    ac.abort('test cancels');
    let rejected = false;
    try { await running; } catch { rejected = true; }
    assert(rejected, 'the aborted callTool did not reject');
    await sleep(500); // let an in-flight call land
    const after = ticks();
    await sleep(1000);
    eq(ticks(), after, 'tick files written after cancellation');
    eq(value(await callCode(client, `async () => 6 * 7`)), 42, 'a later call');
  });

  T('a runaway loop is stopped by the CPU limit', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: [...fsArgs(ctx), '--cpu-ms', '200'] });
    const res = await callCode(client, `async () => { while (true) {} }`);
    eq(res.isError, true, 'isError');
    assert(/cpu/i.test(text(res)), `error mentions CPU: ${text(res)}`);
    eq(value(await callCode(client, `async () => 'still alive'`)), 'still alive', 'a later call');
  });

  T('fetch, require, process and host credentials are out of reach', async (ctx) => {
    const secret = 'h4-secret-' + Math.random().toString(36).slice(2);
    const hits = [];
    const srv = http.createServer((req, res) => { hits.push(req.url); res.end('reachable ' + secret); });
    await new Promise(r => srv.listen(0, '127.0.0.1', r));
    ctx.defer(() => new Promise(r => srv.close(r)));
    const port = srv.address().port;
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx), env: { SECRET_TOKEN: secret } });
    const res = await callCode(client, `async () => {
      const out = {};
      try { const r = await fetch('http://127.0.0.1:${port}/'); out.fetch = 'fetched ' + (await r.text()); }
      catch (e) { out.fetch = 'blocked: ' + e.message; }
      out.require = typeof require;
      out.process = typeof process;
      try { out.env = process.env.SECRET_TOKEN; } catch (e) { out.env = e.name; }
      for (const g of ['Deno', 'Bun', 'std', 'os', 'scriptArgs']) out[g] = typeof globalThis[g];
      try { await import('os'); out.importOs = 'imported'; } catch (e) { out.importOs = 'refused'; }
      try { await import('node:process'); out.importProcess = 'imported'; } catch (e) { out.importProcess = 'refused'; }
      out.globals = Object.getOwnPropertyNames(globalThis).filter(k => /env|secret|token|process/i.test(k));
      console.log('probe done');
      return out;
    }`);
    const all = allText(res);
    excludes(all, secret, 'the secret');
    const v = value(res);
    assert(v.fetch.startsWith('blocked'), `fetch was not blocked: ${v.fetch}`);
    eq(hits.length, 0, 'requests that reached the local server');
    eq(v.require, 'undefined', 'typeof require');
    eq(v.process, 'undefined', 'typeof process');
    eq(v.env, 'ReferenceError', 'process.env');
    for (const g of ['Deno', 'Bun', 'std', 'os', 'scriptArgs']) eq(v[g], 'undefined', `typeof ${g}`);
    eq(v.importOs, 'refused', 'import("os")');
    eq(v.importProcess, 'refused', 'import("node:process")');
    eq(v.globals, [], 'suspicious globals');
  });

  T('console output arrives as a second content item, on success and on error', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const ok = await callCode(client, `async () => { console.log('hello', { a: 1 }); console.warn('careful'); return { done: true }; }`);
    eq(ok.isError ?? false, false, 'isError');
    eq(text(ok), JSON.stringify({ done: true }, null, 2), 'pretty JSON result');
    eq(ok.content.length, 2, 'content items');
    assert(text(ok, 1).startsWith('Console output:\n'), `second item: ${text(ok, 1)}`);
    includes(text(ok, 1), 'hello', 'console output');
    includes(text(ok, 1), 'careful', 'console output');
    const str = await callCode(client, `async () => 'plain string'`);
    eq(text(str), 'plain string', 'a string result as is');
    eq(str.content.length, 1, 'no console item without logs');
    const bad = await callCode(client, `async () => { console.log('before the throw'); throw new Error('boom'); }`);
    eq(bad.isError, true, 'isError');
    eq(text(bad), 'Error: boom', 'error text');
    assert(text(bad, 1)?.startsWith('Console output:\n'), `second item: ${text(bad, 1)}`);
    includes(text(bad, 1), 'before the throw', 'console output on error');
  });

  T('one progress notification per tool call', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const progress = [];
    const flag = path.join(ctx.dir, 'progress-seen');
    // The SDK handles notifications a microtask after the message that
    // brought them, and a response at once: progress read in one chunk with
    // the call's result is dropped as "unknown token". So the program waits
    // (polling a file, no timing involved) until the test has seen its three.
    const res = await callCode(client, `async () => {
      for (let i = 0; i < 3; i++) await codemode.list_allowed_directories({});
      for (let i = 0; i < 3000; i++) {
        try { await codemode.read_text_file({ path: ${JSON.stringify(flag)} }); break; }
        catch { await new Promise(r => setTimeout(r, 10)); }
      }
      return 'three calls';
    }`, {
      onprogress: (p) => {
        if (!String(p.message).includes('list_allowed_directories')) return;
        progress.push(p);
        if (progress.length === 3) fs.writeFileSync(flag, 'seen');
      },
    });
    eq(value(res), 'three calls', 'result');
    eq(progress.length, 3, 'progress notifications');
    for (let i = 1; i < progress.length; i++) assert(progress[i].progress > progress[i - 1].progress, `progress increases: ${JSON.stringify(progress)}`);
  });

  T('console lines arrive as logging notifications', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const msgs = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { msgs.push(n.params); });
    await client.setLoggingLevel('info');
    const res = await callCode(client, `async () => { console.log('log line one'); console.error('log line two'); return 1; }`);
    eq(value(res), 1, 'result');
    await waitFor(() => msgs.length >= 2, { timeoutMs: 5000, what: 'two logging notifications' });
    const all = msgs.map(m => typeof m.data === 'string' ? m.data : JSON.stringify(m.data)).join('\n');
    includes(all, 'log line one', 'logging notifications');
    includes(all, 'log line two', 'logging notifications');
  });

  T('two upstreams are two namespaces', async (ctx) => {
    const { client } = await startCorral(ctx, {
      transport, args: [...fsArgs(ctx), '--upstream', `memory=${memCommand()}`], env: memEnv(ctx),
    });
    const { tools } = await client.listTools();
    eq(tools.map(t => t.name), ['code'], 'tool names');
    includes(tools[0].description, 'declare const fs', 'description');
    includes(tools[0].description, 'declare const memory', 'description');
    const res = await callCode(client, `async () => {
      ${TXT}
      await fs.write_file({ path: ${JSON.stringify(ctx.dir)} + '/note.txt', content: 'remember the milk' });
      const note = txt(await fs.read_text_file({ path: ${JSON.stringify(ctx.dir)} + '/note.txt' }));
      await memory.create_entities({ entities: [{ name: 'note', entityType: 'file', observations: [note] }] });
      const g = await memory.open_nodes({ names: ['note'] });
      return g.entities[0].observations[0];
    }`);
    eq(value(res), 'remember the milk', 'result');
  });

  T('-c FILE in the mcpServers format, with env', async (ctx) => {
    const cfg = path.join(ctx.dir, 'servers.json');
    fs.writeFileSync(cfg, JSON.stringify({
      mcpServers: {
        files: { command: NODE, args: [FS_SERVER, ctx.dir] },
        graph: { command: NODE, args: [MEM_SERVER], env: { MEMORY_FILE_PATH: path.join(ctx.dir, 'graph.jsonl') } },
      },
    }, null, 2));
    const { client } = await startCorral(ctx, { transport, args: ['-c', cfg] });
    const { tools } = await client.listTools();
    includes(tools[0].description, 'declare const files', 'description');
    includes(tools[0].description, 'declare const graph', 'description');
    const res = await callCode(client, `async () => {
      await graph.create_entities({ entities: [{ name: 'cfg', entityType: 't', observations: ['from config'] }] });
      const dirs = await files.list_allowed_directories({});
      return { dirs: typeof dirs === 'string' ? dirs : dirs.content, n: (await graph.read_graph({})).entities.length };
    }`);
    const v = value(res);
    includes(v.dirs, ctx.dir, 'allowed directories');
    eq(v.n, 1, 'entities');
    // The env from the config reached the memory server.
    await waitFor(() => fs.existsSync(path.join(ctx.dir, 'graph.jsonl')), { timeoutMs: 5000, what: 'graph.jsonl' });
  });
}

// HTTP only: the bearer token.
test('http: --auth-token-env requires the bearer token', async (ctx) => {
  const token = 'tok-' + Math.random().toString(36).slice(2);
  const { url } = await startCorral(ctx, {
    transport: 'http', args: [...fsArgs(ctx), '--auth-token-env', 'H4_TOKEN'], env: { H4_TOKEN: token }, connect: false,
  });
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  const post = (auth) => fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(auth ? { authorization: auth } : {}) },
    body: JSON.stringify(init),
  });
  eq((await post(null)).status, 401, 'no token');
  eq((await post('Bearer wrong')).status, 401, 'wrong token');
  const r = await post(`Bearer ${token}`);
  eq(r.status, 200, 'right token');
  await r.body?.cancel();
  // And the SDK client, given the header, works end to end.
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const client = new Client({ name: 'corral-e2e', version: '1.0.0' });
  ctx.defer(() => client.close());
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  eq(value(await callCode(client, `async () => 'authorized'`)), 'authorized', 'result');
});

// stdio only: closing stdin ends corral and its upstreams.
test('stdio: closing stdin ends corral and every upstream', async (ctx) => {
  const child = spawn(CORRAL, ['mcp', ...fsArgs(ctx)], { cwd: ctx.dir, stdio: ['pipe', 'ignore', 'pipe'] });
  child.stderr.on('data', d => ctx.log(d));
  const exited = new Promise(r => child.once('exit', r));
  ctx.defer(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  await waitFor(() => pidsMatching(ctx.dir).length > 0, { timeoutMs: 15000, what: 'the upstream to start' });
  child.stdin.end();
  await withTimeout(exited, 10000, 'corral exit after stdin closed');
  await waitFor(() => pidsMatching(ctx.dir).length === 0, { timeoutMs: 10000, what: 'upstream exit' });
});

// stdio only, raw JSON-RPC: malformed messages get the right errors and the server carries on.
test('stdio: raw JSON-RPC errors, version negotiation, ping', async (ctx) => {
  const child = spawn(CORRAL, ['mcp', ...fsArgs(ctx)], { cwd: ctx.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', d => ctx.log(d));
  ctx.defer(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const msgs = [];
  let buf = '';
  child.stdout.on('data', d => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim(); buf = buf.slice(i + 1);
      if (!line) continue;
      try { msgs.push(JSON.parse(line)); } catch { msgs.push({ unparsable: line }); }
    }
  });
  const send = (v) => child.stdin.write((typeof v === 'string' ? v : JSON.stringify(v)) + '\n');
  const reply = (pred, what) => waitFor(() => msgs.find(pred), { timeoutMs: 15000, what });
  send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  const init = await reply(m => m.id === 1, 'initialize reply');
  eq(init.result?.protocolVersion, '2024-11-05', 'negotiated protocol version');
  assert(init.result?.capabilities?.tools, 'tools capability');
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  send('{"jsonrpc": "2.0", "id": 2, "method": "tools/list"');   // cut short
  const parse = await reply(m => m.error && m.error.code === -32700, 'parse error');
  eq(parse.id, null, 'parse error id');
  send({ jsonrpc: '2.0', id: 3, method: 'no/such/method' });
  eq((await reply(m => m.id === 3, 'reply 3')).error?.code, -32601, 'method not found');
  send({ jsonrpc: '2.0', id: 4 });
  eq((await reply(m => m.id === 4 || (m.error && m.error.code === -32600), 'reply 4')).error?.code, -32600, 'invalid request');
  send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { arguments: { code: '1' } } });
  const r5 = await reply(m => m.id === 5, 'reply 5');
  assert(r5.error?.code === -32602 || r5.result?.isError === true, `tools/call without a name: ${JSON.stringify(r5)}`);
  send({ jsonrpc: '2.0', id: 6, method: 'ping' });
  eq((await reply(m => m.id === 6, 'ping reply')).result, {}, 'ping');
  send({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
  eq((await reply(m => m.id === 7, 'tools/list reply')).result?.tools?.map(t => t.name), ['code'], 'tools after the errors');
  send({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'code', arguments: { code: 'async () => 40 + 2' } } });
  eq((await reply(m => m.id === 8, 'tools/call reply')).result?.content?.[0]?.text, '42', 'tools/call');
  eq(msgs.filter(m => m.unparsable).length, 0, 'non-JSON lines on stdout');
});

// stdio: the upstream's stderr reaches corral's stderr under the upstream's name.
test('stdio: upstream stderr is forwarded with its name', async (ctx) => {
  const { client } = await startCorral(ctx, { transport: 'stdio', args: fsArgs(ctx) });
  await client.listTools();
  const line = await waitFor(() => ctx.logText.split('\n').find(l => l.includes('Secure MCP Filesystem Server')),
    { timeoutMs: 5000, what: "server-filesystem's start-up line on corral's stderr" });
  assert(/\bfs\b/.test(line), `the forwarded line does not name the upstream: ${line}`);
});

// HTTP, raw: sessions, Origin, DELETE, GET stream, as the streamable HTTP transport specifies.
test('http: raw sessions, Origin check, DELETE', async (ctx) => {
  const { url } = await startCorral(ctx, { transport: 'http', args: fsArgs(ctx), connect: false });
  const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const rpc = (id, method, params) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
  const init = rpc(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } });
  // A foreign Origin is refused.
  const evil = await fetch(url, { method: 'POST', headers: { ...H, origin: 'http://evil.example' }, body: init });
  eq(evil.status, 403, 'foreign Origin');
  await evil.body?.cancel();
  // initialize gives a session id.
  const r1 = await fetch(url, { method: 'POST', headers: H, body: init });
  eq(r1.status, 200, 'initialize');
  const sid = r1.headers.get('mcp-session-id');
  assert(sid, 'no Mcp-Session-Id on the initialize response');
  const body1 = await r1.text();
  includes(body1, '"protocolVersion":"2025-06-18"', 'initialize reply');
  const S = { ...H, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
  const n = await fetch(url, { method: 'POST', headers: S, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  eq(n.status, 202, 'a notification is accepted');
  await n.body?.cancel();
  // Without the session id: 400.
  const noSid = await fetch(url, { method: 'POST', headers: H, body: rpc(2, 'tools/list') });
  eq(noSid.status, 400, 'tools/list without a session id');
  await noSid.body?.cancel();
  const ok = await fetch(url, { method: 'POST', headers: S, body: rpc(3, 'tools/list') });
  eq(ok.status, 200, 'tools/list in the session');
  includes(await ok.text(), '"name":"code"', 'tools/list reply');
  // GET opens the server-to-client stream (or is not offered: 405).
  const ac = new AbortController();
  const g = await fetch(url, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': sid }, signal: ac.signal });
  assert(g.status === 405 || (g.status === 200 && /text\/event-stream/.test(g.headers.get('content-type') || '')), `GET: ${g.status} ${g.headers.get('content-type')}`);
  ac.abort();
  // DELETE ends the session; afterwards the id is unknown (404).
  const d = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
  assert([200, 202, 204, 405].includes(d.status), `DELETE: ${d.status}`);
  await d.body?.cancel();
  if (d.status !== 405) {
    const gone = await fetch(url, { method: 'POST', headers: S, body: rpc(4, 'tools/list') });
    eq(gone.status, 404, 'a request in a deleted session');
    await gone.body?.cancel();
  }
});
