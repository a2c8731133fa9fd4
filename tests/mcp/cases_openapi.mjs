// `corral mcp --openapi` (and `corral exec --openapi`) against the cyclic
// spec fixture and a small HTTP server on 127.0.0.1 that records what it gets.
import http from 'node:http';
import path from 'node:path';
import {
  test, assert, eq, includes, excludes, startCorral, callCode, text, value, allText, runCorral, FIXTURES,
} from './lib.mjs';

const SPEC = path.join(FIXTURES, 'cyclic-api.json');
const YAML_SPEC = path.join(FIXTURES, 'small-api.yaml');

// The API: everything under /api; /admin is off the base URL and must never be reached.
async function startApi(ctx, secret) {
  const seen = [];
  const pets = [{ id: 1, name: 'Rex', tag: 'dog' }, { id: 2, name: 'Tom', tag: 'cat' }, { id: 3, name: 'Nemo', tag: 'fish' }];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', d => { body += d; });
    req.on('end', () => {
      const u = new URL(req.url, 'http://127.0.0.1');
      seen.push({ method: req.method, url: req.url, path: u.pathname, headers: req.headers, body });
      const json = (status, v) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
      if (req.method === 'GET' && u.pathname === '/api/pets') {
        const limit = Number(u.searchParams.get('limit') || pets.length);
        return json(200, pets.slice(0, limit));
      }
      if (req.method === 'POST' && u.pathname === '/api/pets') {
        let v; try { v = JSON.parse(body); } catch { return json(400, { status: 400, detail: 'bad json' }); }
        return json(201, { id: 4, ...v });
      }
      const m = /^\/api\/pets\/(\d+)$/.exec(u.pathname);
      if (req.method === 'GET' && m) {
        const p = pets.find(x => x.id === Number(m[1]));
        return p ? json(200, p) : json(404, { status: 404, detail: `no pet ${m[1]}` });
      }
      if (u.pathname === '/api/echo/headers') return json(200, req.headers);
      if (u.pathname === '/api/private') {
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
        return res.end(`refused: you sent "${req.headers.authorization}" and we do not like ${secret}`);
      }
      if (u.pathname === '/api/redirect') { res.writeHead(302, { location: '/admin' }); return res.end(); }
      if (u.pathname === '/api/text') { res.writeHead(200, { 'content-type': 'text/plain' }); return res.end('just text'); }
      json(404, { status: 404, detail: 'not found' });
    });
  });
  await new Promise(r => srv.listen(0, '127.0.0.1', r));
  ctx.defer(() => new Promise(r => { srv.closeAllConnections?.(); srv.close(r); }));
  const port = srv.address().port;
  return { seen, port, base: `http://127.0.0.1:${port}/api` };
}

function openapiArgs(api, spec = SPEC) {
  return ['--openapi', spec, '--base-url', api.base, '--header', 'Authorization: Bearer ${H4_API_SECRET}', '--header', 'X-Client: corral-e2e'];
}
const newSecret = () => 'sk-h4-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);

async function openapiServer(ctx, transport = 'stdio', spec = SPEC) {
  const secret = newSecret();
  const api = await startApi(ctx, secret);
  const { client } = await startCorral(ctx, { transport, args: openapiArgs(api, spec), env: { H4_API_SECRET: secret } });
  return { client, api, secret };
}

for (const transport of ['stdio', 'http']) {
  test(`${transport}: openapi lists search and execute`, async (ctx) => {
    const { client } = await openapiServer(ctx, transport);
    const { tools } = await client.listTools();
    eq(tools.map(t => t.name).sort(), ['execute', 'search'], 'tool names');
    for (const t of tools) {
      eq(t.inputSchema.properties?.code?.type, 'string', `${t.name} inputSchema.properties.code.type`);
      includes(t.description, 'codemode', `${t.name} description`);
    }
    includes(tools.find(t => t.name === 'search').description, 'spec()', 'search description');
    includes(tools.find(t => t.name === 'execute').description, 'request', 'execute description');
  });
}

test('openapi: search resolves $refs, marks cycles, copies, keeps external refs', async (ctx) => {
  const { client, api, secret } = await openapiServer(ctx);
  const res = await callCode(client, `async () => {
    const spec = await codemode.spec();
    const tree = spec.paths['/tree'].get.responses['200'].content['application/json'].schema;
    const pet201 = spec.paths['/pets'].post.responses['201'].content['application/json'].schema;
    const pet200 = spec.paths['/pets/{petId}'].get.responses['200'].content['application/json'].schema;
    pet201.mutated = true;
    const json = JSON.stringify(spec);
    return {
      paths: Object.keys(spec.paths).sort(),
      byTag: Object.entries(spec.paths).flatMap(([p, item]) => Object.entries(item)
        .filter(([m, op]) => op && op.tags && op.tags.includes('pets'))
        .map(([m, op]) => m.toUpperCase() + ' ' + p)).sort(),
      treeLabel: tree.properties.label.type,
      treeParent: tree.properties.parent,
      treeChildren: tree.properties.children.items,
      petOwnerPets: pet200.properties.owner.properties.pets.items,
      limitParam: spec.paths['/pets'].get.parameters[0].name,
      problem: spec.paths['/pets/{petId}'].get.responses['404'].content['application/json'].schema.properties.detail.type,
      external: spec.paths['/external'].get.responses['200'].content['application/json'].schema,
      copies: pet200.mutated === undefined,
      localRefsLeft: (json.match(/"\\$ref":"#/g) || []).length,
      hasRequest: typeof codemode.request,
    };
  }`, { tool: 'search' });
  const v = value(res);
  eq(v.paths, ['/echo/headers', '/external', '/owners/{ownerId}', '/pets', '/pets/{petId}', '/private', '/redirect', '/tree'], 'paths');
  eq(v.byTag, ['GET /pets', 'GET /pets/{petId}', 'POST /pets'], 'operations tagged pets');
  eq(v.treeLabel, 'string', 'TreeNode.label resolved');
  eq(v.treeParent, { $circular: '#/components/schemas/TreeNode' }, 'TreeNode.parent');
  eq(v.treeChildren, { $circular: '#/components/schemas/TreeNode' }, 'TreeNode.children.items');
  eq(v.petOwnerPets, { $circular: '#/components/schemas/Pet' }, 'Pet.owner.pets.items');
  eq(v.limitParam, 'limit', 'parameter $ref');
  eq(v.problem, 'string', 'response $ref');
  eq(v.external, { $ref: 'other.json#/Thing' }, 'external $ref kept');
  eq(v.copies, true, 'each resolved $ref is a copy');
  eq(v.localRefsLeft, 0, 'local $refs left');
  assert(v.hasRequest !== 'function', 'search must not offer codemode.request');
  excludes(allText(res), secret, 'the secret');
  eq(api.seen.length, 0, 'search made requests');
});

test('openapi: a YAML 3.1 spec is read too', async (ctx) => {
  const { client } = await openapiServer(ctx, 'stdio', YAML_SPEC);
  const res = await callCode(client, `async () => {
    const spec = await codemode.spec();
    const viaPath = spec.paths['/pets'].get.responses['200'].content['application/json'].schema.items;
    return { title: spec.info.title, friendsViaPath: viaPath.properties.friends.items,
             // components.schemas.Pet is no $ref itself: its first $ref to Pet resolves, the one inside that is the cycle
             friendsInComponents: spec.components.schemas.Pet.properties.friends.items.properties.friends.items };
  }`, { tool: 'search' });
  const circ = { $circular: '#/components/schemas/Pet' };
  eq(value(res), { title: 'Pet clinic in YAML', friendsViaPath: circ, friendsInComponents: circ }, 'result');
});

test('openapi: execute GET with query and POST with a body; credentials reach the API only', async (ctx) => {
  const { client, api, secret } = await openapiServer(ctx);
  const res = await callCode(client, `async () => {
    const two = await codemode.request({ method: 'GET', path: '/pets', query: { limit: 2 } });
    const made = await codemode.request({ method: 'POST', path: '/pets', body: { name: 'Polly', tag: 'parrot' } });
    const full = await codemode.request({ method: 'GET', path: '/pets/1', fullResponse: true });
    const plain = await codemode.request({ method: 'GET', path: '/text' });
    console.log('made', made.id);
    return { names: two.map(p => p.name), made, fullStatus: full.status, fullName: full.body.name,
             fullType: typeof full.headers, plain };
  }`, { tool: 'execute' });
  const v = value(res);
  eq(v.names, ['Rex', 'Tom'], 'GET /pets?limit=2');
  eq(v.made, { id: 4, name: 'Polly', tag: 'parrot' }, 'POST /pets');
  eq(v.fullStatus, 200, 'fullResponse status');
  eq(v.fullName, 'Rex', 'fullResponse body');
  eq(v.fullType, 'object', 'fullResponse headers');
  eq(v.plain, 'just text', 'a text body');
  excludes(allText(res), secret, 'the secret');
  const get = api.seen.find(r => r.method === 'GET' && r.path === '/api/pets');
  assert(get, `GET /api/pets not seen: ${JSON.stringify(api.seen.map(r => r.url))}`);
  eq(new URL(get.url, 'http://x').searchParams.get('limit'), '2', 'query limit');
  const post = api.seen.find(r => r.method === 'POST');
  eq(JSON.parse(post.body), { name: 'Polly', tag: 'parrot' }, 'POST body');
  assert(/json/.test(post.headers['content-type'] || ''), `POST content-type: ${post.headers['content-type']}`);
  for (const r of api.seen) {
    eq(r.headers.authorization, `Bearer ${secret}`, `Authorization on ${r.method} ${r.url}`);
    eq(r.headers['x-client'], 'corral-e2e', `X-Client on ${r.method} ${r.url}`);
  }
});

test('openapi: echoed and quoted secrets come back [redacted]', async (ctx) => {
  const { client, api, secret } = await openapiServer(ctx);
  const res = await callCode(client, `async () => {
    const h = await codemode.request({ method: 'GET', path: '/echo/headers' });
    let err;
    try { await codemode.request({ method: 'GET', path: '/private' }); } catch (e) { err = { status: e.status, message: e.message }; }
    const spec = JSON.stringify(await codemode.spec());
    console.log('headers seen by the sandbox:', JSON.stringify(h));
    return { auth: h.authorization, err, specMentionsBearer: spec.includes('Bearer ') };
  }`, { tool: 'execute' });
  const all = allText(res);
  excludes(all, secret, 'the secret');
  const v = value(res);
  // "[redacted]" may stand for the whole configured header value or just the ${VAR} part.
  assert(['Bearer [redacted]', '[redacted]'].includes(v.auth), `echoed Authorization: ${JSON.stringify(v.auth)}`);
  eq(v.err?.status, 401, 'status of the 401');
  includes(v.err?.message, '[redacted]', '401 message');
  includes(v.err?.message, '401', '401 message');
  eq(v.specMentionsBearer, false, 'spec mentions the configured header');
  // And it did arrive at the API.
  assert(api.seen.length >= 2 && api.seen.every(r => r.headers.authorization === `Bearer ${secret}`), 'Authorization at the API');
  // Uncaught: the error text of the tool result is redacted too.
  const bad = await callCode(client, `async () => codemode.request({ method: 'GET', path: '/private' })`, { tool: 'execute' });
  eq(bad.isError, true, 'isError');
  excludes(allText(bad), secret, 'the secret in an uncaught error');
});

test('openapi: 404 rejects with an Error whose status is set', async (ctx) => {
  const { client } = await openapiServer(ctx);
  const res = await callCode(client, `async () => {
    try { await codemode.request({ method: 'GET', path: '/pets/999' }); return 'no error'; }
    catch (e) { return { isError: e instanceof Error, status: e.status, message: e.message }; }
  }`, { tool: 'execute' });
  const v = value(res);
  eq(v.isError, true, 'an Error');
  eq(v.status, 404, 'status');
  includes(v.message, '404', 'message');
  includes(v.message, 'no pet 999', 'message has an excerpt of the body');
  const uncaught = await callCode(client, `async () => codemode.request({ method: 'GET', path: '/pets/999' })`, { tool: 'execute' });
  eq(uncaught.isError, true, 'uncaught isError');
  assert(text(uncaught).startsWith('Error: '), `text: ${text(uncaught)}`);
});

test('openapi: requests off the base URL are refused, redirects off it not followed', async (ctx) => {
  const { client, api } = await openapiServer(ctx);
  const attempts = ['/../admin', '/pets/../../admin', '/%2e%2e/admin', '/pets/%2E%2E/%2e%2e/admin', '..', '../admin',
    `http://127.0.0.1:${api.port}/admin`, `//127.0.0.1:${api.port}/admin`, 'http://example.invalid/x', '/redirect'];
  const res = await callCode(client, `async () => {
    const out = {};
    for (const p of ${JSON.stringify(attempts)}) {
      try { const r = await codemode.request({ method: 'GET', path: p }); out[p] = 'allowed: ' + JSON.stringify(r).slice(0, 80); }
      catch (e) { out[p] = 'refused: ' + e.message; }
    }
    return out;
  }`, { tool: 'execute' });
  const v = value(res);
  const offBase = api.seen.filter(r => !new URL(r.url, 'http://127.0.0.1').pathname.startsWith('/api/'));
  eq(offBase.map(r => r.url), [], 'requests that reached paths off the base URL');
  for (const p of attempts) {
    if (p === '/redirect') continue; // refusing or returning the 302 itself are both fine; following it is not
    assert(typeof v[p] === 'string' && v[p].startsWith('refused'), `${p}: ${v[p]}`);
  }
});

test('exec: --openapi --mode search and execute', async (ctx) => {
  const secret = newSecret();
  const api = await startApi(ctx, secret);
  const env = { H4_API_SECRET: secret };
  const s = await runCorral(['exec', ...openapiArgs(api), '--mode', 'search',
    'async () => ({ n: Object.keys((await codemode.spec()).paths).length, req: typeof codemode.request })'], { env });
  eq(s.code, 0, `exit status (stderr: ${s.stderr.slice(0, 300)})`);
  const sv = JSON.parse(s.stdout);
  eq(sv.result?.n, 8, 'paths');
  assert(sv.result?.req !== 'function', 'search mode offers request');
  const e = await runCorral(['exec', ...openapiArgs(api),
    'async () => { const h = await codemode.request({ method: "GET", path: "/echo/headers" }); console.log(h.authorization); return h.authorization; }'], { env });
  eq(e.code, 0, `exit status (stderr: ${e.stderr.slice(0, 300)})`);
  excludes(e.stdout, secret, 'the secret in stdout');
  excludes(e.stderr, secret, 'the secret in stderr');
  includes(JSON.parse(e.stdout).result, '[redacted]', 'result');
  eq(api.seen.at(-1).headers.authorization, `Bearer ${secret}`, 'Authorization at the API');
});
