// Size in tokens (o200k, gpt-tokenizer) of what `corral mcp` shows a model:
// the `code` tool over server-filesystem and over server-memory, and
// `search` + `execute` over OpenAPI specs from small to very large.
// Prints a markdown table; asserts nothing.
//
//   node bench/mcp/tokens.mjs CORRAL_BIN
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StdioClientTransport, encodeO200k } from '../../tests/mcp/sdk.mjs';
import { NODE, FS_SERVER, MEM_SERVER, FIXTURES } from '../../tests/mcp/lib.mjs';

const CORRAL = path.resolve(process.argv[2] || 'build/release/corral');
const tok = (s) => encodeO200k(s).length;

async function listTools(command, args, env = {}) {
  const c = new Client({ name: 'corral-bench', version: '1.0.0' });
  await c.connect(new StdioClientTransport({ command, args, env: { ...process.env, ...env }, stderr: 'ignore' }));
  const { tools } = await c.listTools();
  await c.close();
  return tools;
}

// A large synthetic API: `resources` resources, each with a collection and an
// item path (GET/POST, GET/PUT/DELETE), shared schemas that refer to each other.
function bigSpec(resources) {
  const spec = { openapi: '3.0.3', info: { title: `Synthetic API with ${resources * 2} paths`, version: '1.0.0' }, paths: {}, components: { schemas: {} } };
  for (let i = 0; i < resources; i++) {
    const R = `Resource${i}`, r = `resource${i}`;
    spec.components.schemas[R] = {
      type: 'object', description: `A ${r} record.`,
      properties: { id: { type: 'string' }, name: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' },
        parent: { $ref: `#/components/schemas/${R}` }, related: { type: 'array', items: { $ref: `#/components/schemas/Resource${(i + 1) % resources}` } } },
    };
    const one = { content: { 'application/json': { schema: { $ref: `#/components/schemas/${R}` } } } };
    spec.paths[`/${r}s`] = {
      get: { operationId: `list${R}s`, tags: [`group${i % 20}`], summary: `List ${r}s`,
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }],
        responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'array', items: { $ref: `#/components/schemas/${R}` } } } } } } },
      post: { operationId: `create${R}`, tags: [`group${i % 20}`], summary: `Create a ${r}`, requestBody: one, responses: { 201: { description: 'created', ...one } } },
    };
    spec.paths[`/${r}s/{id}`] = {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: { operationId: `get${R}`, tags: [`group${i % 20}`], summary: `Get a ${r}`, responses: { 200: { description: 'ok', ...one } } },
      put: { operationId: `update${R}`, tags: [`group${i % 20}`], summary: `Replace a ${r}`, requestBody: one, responses: { 200: { description: 'ok', ...one } } },
      delete: { operationId: `delete${R}`, tags: [`group${i % 20}`], summary: `Delete a ${r}`, responses: { 204: { description: 'gone' } } },
    };
  }
  return spec;
}

const rows = [];
const row = (what, tools, baseline) => {
  const desc = tools.reduce((n, t) => n + tok(t.description || ''), 0);
  const whole = tok(JSON.stringify(tools));
  rows.push(`| ${what} | ${tools.map(t => t.name).join(' + ')} | ${desc} | ${whole} | ${baseline ?? '–'} |`);
};

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-mcp-tokens-')));
try {
  const memEnv = { MEMORY_FILE_PATH: path.join(tmp, 'm.jsonl') };
  const fsDirect = await listTools(NODE, [FS_SERVER, tmp]);
  const memDirect = await listTools(NODE, [MEM_SERVER], memEnv);
  row(`server-filesystem (${fsDirect.length} tools)`, await listTools(CORRAL, ['mcp', '--upstream', `fs=${NODE} ${FS_SERVER} ${tmp}`]), tok(JSON.stringify(fsDirect)));
  row(`server-memory (${memDirect.length} tools)`, await listTools(CORRAL, ['mcp', '--upstream', `memory=${NODE} ${MEM_SERVER}`], memEnv), tok(JSON.stringify(memDirect)));
  row('server-filesystem + server-memory', await listTools(CORRAL, ['mcp', '--upstream', `fs=${NODE} ${FS_SERVER} ${tmp}`, '--upstream', `memory=${NODE} ${MEM_SERVER}`], memEnv),
    tok(JSON.stringify(fsDirect)) + tok(JSON.stringify(memDirect)));
  const openapi = [['tests/mcp/fixtures/cyclic-api.json', path.join(FIXTURES, 'cyclic-api.json')]];
  for (const n of [50, 250, 1000]) {
    const f = path.join(tmp, `big-${n}.json`);
    fs.writeFileSync(f, JSON.stringify(bigSpec(n)));
    openapi.push([`synthetic, ${n * 2} paths, ${n * 5} operations (${(fs.statSync(f).size / 1024).toFixed(0)} KiB)`, f]);
  }
  for (const [label, f] of openapi) {
    const specTokens = tok(fs.readFileSync(f, 'utf8'));
    row(`OpenAPI: ${label}`, await listTools(CORRAL, ['mcp', '--openapi', f, '--base-url', 'http://127.0.0.1:9/api']), `${specTokens} (the spec itself)`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(`corral: ${CORRAL}\n\n### Tool descriptions in o200k tokens (gpt-tokenizer)\n`);
console.log('| surface | tools | description tokens | whole tools/list entry (JSON) tokens | without corral: upstream tools/list, or the raw spec |');
console.log('|---|---|---:|---:|---:|');
for (const r of rows) console.log(r);
