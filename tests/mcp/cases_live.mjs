// `corral mcp` while a program runs: console lines reach the client as
// logging notifications the moment they are logged (filtered by
// logging/setLevel, bounded per call, never unasked), upstream stderr that
// nobody reads never stalls tool calls, and the --isolation/--tenant options
// run programs in jailed worker processes end to end.
import fs from 'node:fs';
import path from 'node:path';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  test, assert, eq, includes, startCorral, callCode, text, value, fsCommand, withTimeout, runCorral, CORRAL,
} from './lib.mjs';

const fsArgs = (ctx) => ['--upstream', `fs=${fsCommand(ctx.dir)}`];
// The C test upstream, built next to the corral binary under test.
const FAKE = path.join(path.dirname(CORRAL), 'tests/mcp/fake_upstream');

// Collects logging notifications, and the order in which they and the
// results of tool calls arrive.
function recordLogs(client) {
  const events = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    events.push({ kind: 'log', level: n.params.level, data: String(n.params.data) });
  });
  return events;
}
const logs = (events) => events.filter(e => e.kind === 'log');

for (const transport of ['stdio', 'http']) {
  const T = (name, fn, opts) => test(`${transport}: ${name}`, fn, opts);

  T('a console line reaches the client while the program still runs', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const events = recordLogs(client);
    await client.setLoggingLevel('info');
    const flag = path.join(ctx.dir, 'go.txt');
    // The program logs, then waits for a file that the test writes only
    // once that line has arrived: lines held back until the end would leave
    // it waiting until its wall-time limit, and fail the case.
    const call = callCode(client, `async () => {
      console.log('waiting for the flag');
      for (let i = 0; i < 2000; i++) {
        try { await fs.read_text_file({ path: ${JSON.stringify(flag)} }); break; }
        catch { await new Promise(r => setTimeout(r, 10)); }
      }
      console.log('saw the flag');
      return 'done';
    }`, { timeout: 60000 }).then(res => { events.push({ kind: 'result' }); return res; });
    await withTimeout((async () => {
      while (!logs(events).some(e => e.data === 'waiting for the flag')) await new Promise(r => setTimeout(r, 10));
    })(), 30000, 'the first console line, while the program waits');
    eq(events.some(e => e.kind === 'result'), false, 'the call is still running when its first line arrives');
    fs.writeFileSync(flag, 'go');
    const res = await call;
    eq(value(res), 'done', 'result');
    eq(events.map(e => e.kind === 'log' ? e.data : e.kind), ['waiting for the flag', 'saw the flag', 'result'], 'order of arrival');
    includes(text(res, 1), 'waiting for the flag\nsaw the flag', 'the Console output item is kept');
  });

  T('a console line arrives before a slow upstream call returns', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: ['--upstream', `slow=${FAKE}`] });
    const events = recordLogs(client);
    await client.setLoggingLevel('debug');
    const res = await callCode(client, `async () => {
      console.info('before the slow call');
      await codemode.slow({ ms: 300 });
      return 'after';
    }`);
    events.push({ kind: 'result' });
    eq(value(res), 'after', 'result');
    eq(events, [{ kind: 'log', level: 'info', data: 'before the slow call' }, { kind: 'result' }], 'order of arrival');
  });

  T('logging/setLevel filters the console lines sent', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const events = recordLogs(client);
    await client.setLoggingLevel('warning');
    const res = await callCode(client, `async () => {
      console.debug('a debug line'); console.log('a log line'); console.info('an info line');
      console.warn('a warn line'); console.error('an error line');
      return 1;
    }`);
    eq(value(res), 1, 'result');
    // Notifications travel ahead of the result on the same stream.
    eq(logs(events).map(e => [e.level, e.data]), [['warning', 'a warn line'], ['error', 'an error line']], 'notifications');
    const out = text(res, 1);
    for (const l of ['a debug line', 'a log line', 'an info line', 'a warn line', 'an error line']) includes(out, l, 'Console output');
    await client.setLoggingLevel('debug');
    events.length = 0;
    await callCode(client, `async () => { console.debug('now debug'); console.log('and log'); }`);
    eq(logs(events).map(e => [e.level, e.data]), [['debug', 'now debug'], ['info', 'and log']], 'after setLevel debug');
  });

  T('no logging notification unless the client asked for them', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const events = recordLogs(client);
    const res = await callCode(client, `async () => { console.log('quiet line'); console.error('quiet error'); return 2; }`);
    eq(value(res), 2, 'result');
    eq(logs(events).length, 0, 'notifications without logging/setLevel');
    includes(text(res, 1), 'quiet line', 'Console output');
  });

  T('a console flood is cut to a bounded number of notifications with one note', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: fsArgs(ctx) });
    const events = recordLogs(client);
    await client.setLoggingLevel('info');
    const res = await callCode(client, `async () => { for (let i = 0; i < 5000; i++) console.log('line ' + i); return 'flooded'; }`);
    eq(value(res), 'flooded', 'result');
    const got = logs(events);
    eq(got.length, 1001, 'notifications');
    eq(got[999].data, 'line 999', 'the last line sent');
    includes(got[1000].data, '[corral] further console lines of this call are dropped from notifications: the limit of 1000 was reached', 'the note');
    eq(got[1000].level, 'info', 'the note goes at the level of the line it replaces');
    includes(text(res, 1), 'Console output:\nline 0\nline 1\n', 'Console output');
  });

  T('--isolation pool runs programs in jailed workers, logs live', async (ctx) => {
    const { client } = await startCorral(ctx, { transport, args: ['--isolation', 'pool', '--cpu-ms', '2000', ...fsArgs(ctx)] });
    const events = recordLogs(client);
    await client.setLoggingLevel('info');
    const res = await callCode(client, `async () => {
      await codemode.write_file({ path: ${JSON.stringify(ctx.dir)} + '/pooled.txt', content: 'from a pooled worker' });
      console.log('written');
      return typeof process + ' ' + typeof require;
    }`);
    eq(value(res), 'undefined undefined', 'result');
    eq(fs.readFileSync(path.join(ctx.dir, 'pooled.txt'), 'utf8'), 'from a pooled worker', 'the file');
    eq(logs(events).map(e => e.data), ['written'], 'notifications');
    const runaway = await callCode(client, `async () => { for (;;) {} }`);
    eq(runaway.isError, true, 'a runaway loop is an error');
    includes(text(runaway), 'CPU time limit of 2000 ms', 'the limit names itself');
  }, { timeoutMs: 90000 });
}

test('stdio: --isolation tenant with --tenant runs programs', async (ctx) => {
  const { client } = await startCorral(ctx, { args: ['--isolation', 'tenant', '--tenant', 'acme', ...fsArgs(ctx)] });
  const res = await callCode(client, `async () => (await codemode.list_allowed_directories({})) && 6 * 7`);
  eq(value(res), 42, 'result');
});

test('corral mcp --isolation bogus is a usage error naming the modes', async () => {
  const r = await runCorral(['mcp', '--isolation', 'bogus']);
  eq(r.code, 2, 'exit status');
  includes(r.stderr, "corral mcp: --isolation takes inline, pool, tenant or process, got 'bogus'", 'stderr');
});

// corral's own stderr is a pipe the client never reads: once it is full, a
// blocking write there would freeze corral's event loop and every call.
test('stdio: upstream stderr nobody reads does not stall tool calls', async (ctx) => {
  const tr = new StdioClientTransport({ command: CORRAL, args: ['mcp', '--upstream', `noisy=${FAKE}`], stderr: 'pipe', cwd: ctx.dir });
  const client = new Client({ name: 'corral-e2e', version: '1.0.0' }, { capabilities: {} });
  ctx.defer(() => client.close());
  await withTimeout(client.connect(tr), 20000, 'connect');
  assert(tr.stderr, 'the transport exposes stderr');
  // 40 calls, each writing 64 KiB of stderr: far past the pipe and the
  // stream buffers, which are never drained.
  for (let i = 0; i < 4; i++) {
    const res = await withTimeout(callCode(client, `async () => {
      const noise = 'n'.repeat(65536);
      for (let i = 0; i < 10; i++) await codemode.say({ text: noise });
      return (await codemode.echo({ text: 'still answering ${i}' }));
    }`), 30000, `round ${i} of noisy calls`);
    includes(JSON.stringify(value(res)), `still answering ${i}`, 'result');
  }
});
