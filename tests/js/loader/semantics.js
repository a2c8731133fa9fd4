// Worker Loader semantics from the reference (section 1): eager validation
// in load(), lazy errors in get(), caching, entrypoints and stubs.
import { WorkerEntrypoint, RpcTarget } from "cloudflare:workers";

const out = [];
const check = (name, cond) => out.push((cond ? "ok " : "FAIL ") + name);
const msg = (f) => { try { f(); return "no error"; } catch (e) { return `${e.name}: ${e.message}`; } };
const amsg = async (p) => { try { await p; return "no error"; } catch (e) { return `${e.name}: ${e.message}`; } };
const code = (modules, extra = {}) => ({ compatibilityDate: "2025-06-01", mainModule: "main.js", modules, ...extra });

export class Counter extends WorkerEntrypoint {
  hello() { return "counter " + this.ctx.props.n; }
}

export default {
  async fetch(request, env, ctx) {
    const L = env.LOADER;
    out.push(msg(() => L.load(code({}))));
    out.push(msg(() => L.load(code({ "main.ts": "x" }, { mainModule: "main.ts" }))));
    out.push(msg(() => L.load(code({ "a.txt": "x" }))));
    out.push(msg(() => L.load(code({ "main.js": { js: "", text: "" } }))));
    out.push(msg(() => L.load(code({ "main.js": "" }, { compatibilityDate: "2999-01-01" }))).replace(/"\d{4}-\d\d-\d\d"\.$/, '"<today>".'));
    out.push(msg(() => L.load(code({ "main.js": "" }, { compatibilityDate: "yesterday" }))));
    out.push(msg(() => L.load(code({ "main.js": "" }, { compatibilityFlags: ["no_such_flag"] }))));
    out.push(msg(() => L.load(code({ "main.js": "" }, { compatibilityFlags: ["nodejs_compat", "nodejs_compat"] }))));
    out.push(msg(() => L.load(code({ "main.js": "" }, { compatibilityFlags: ["global_navigator", "no_global_navigator"] }))));
    out.push(msg(() => L.load(code({ "main.js": "" }, { allowExperimental: true }))));
    out.push(msg(() => L.load(code({ "main.py": "" }, { mainModule: "main.py" }))));
    out.push(msg(() => L.load(code({ "main.js": { wasm: "" } }))));

    // module kinds and imports
    const w = L.load(code({
      "main.js": `import t from "./data/t.txt"; import j from "./data/j.json"; import c from "./lib/c.cjs"; import { two } from "./lib/two.js";
                  import bytes from "./bin"; export default { kinds() { return [t, j.x, c.name, two(), new Uint8Array(bytes)[1]]; } };`,
      "data/t.txt": { text: "text!" }, "data/j.json": { json: { x: 42 } },
      "lib/c.cjs": { cjs: "module.exports = { name: require('./d.cjs').d + '-cjs' };" },
      "lib/d.cjs": { cjs: "exports.d = 'd';" },
      "lib/two.js": "export function two() { return 2; }",
      "bin": { data: new Uint8Array([7, 8, 9]) },
    }));
    out.push(JSON.stringify(await w.getEntrypoint().kinds()));
    out.push(await amsg(L.load(code({ "main.js": `import x from "./nope.js"; export default {}` })).getEntrypoint().f()));
    out.push(await amsg(L.load(code({ "main.js": `import x from "../up.js"; export default {}` })).getEntrypoint().f()));
    out.push(await amsg(L.load(code({ "main.js": `throw new Error("top-level boom")` })).getEntrypoint().f()));
    out.push(await amsg(L.load(code({ "main.js": `export default { a() {} }` }, { mainModule: "other.js" })).getEntrypoint().a()));
    out.push(await amsg(L.load(code({ "main.js": `export default {}` })).getEntrypoint("Nope").f()));
    out.push(await amsg(L.load(code({ "main.js": `export const x = 1;` })).getEntrypoint().f()));
    out.push(await amsg(L.load(code({ "main.js": `export default { a() {} }` })).getEntrypoint().toString()));
    out.push(await amsg(L.load(code({ "main.js": `export default { a() {} }` })).getEntrypoint().constructor()));

    // get(): cached by id, factory called once, module state persists
    let calls = 0;
    const factory = () => { calls++; return code({ "main.js": "let n = 0; export default { inc() { return ++n; } }" }); };
    const a = await L.get("counter:v1", factory).getEntrypoint().inc();
    const b = await L.get("counter:v1", factory).getEntrypoint().inc();
    check("get() caches by id and keeps module state", a === 1 && b === 2 && calls === 1);
    const c1 = await L.get(null, factory).getEntrypoint().inc();
    const c2 = await L.get(null, factory).getEntrypoint().inc();
    check("get(null) is fresh every time", c1 === 1 && c2 === 1 && calls === 3);
    out.push(await amsg(L.get("bad", () => { throw new Error("Code loader failed!"); }).getEntrypoint().inc()));
    out.push(await amsg(L.get("bad2", async () => code({})).getEntrypoint().inc()));

    // entrypoint classes, props, named exports, ctx.exports loopback
    const ep = L.load(code({ "main.js": `import { WorkerEntrypoint } from "cloudflare:workers";
      export class Greeter extends WorkerEntrypoint { greet(n) { return this.ctx.props.greeting + ", " + n; } }
      export default class extends WorkerEntrypoint { who() { return typeof this.env.COUNTER; } }` }, {
      env: { COUNTER: ctx.exports.Counter({ props: { n: 7 } }) } }));
    out.push(await ep.getEntrypoint("Greeter", { props: { greeting: "Hi" } }).greet("Ann"));
    out.push(await ep.getEntrypoint().who());
    const viaEnv = L.load(code({ "main.js": `export default { go(x, env) { return env.COUNTER.hello(); } }` }, {
      env: { COUNTER: ctx.exports.Counter({ props: { n: 7 } }) } }));
    out.push(await viaEnv.getEntrypoint().go(1));

    // values and stubs across the boundary
    const vals = L.load(code({ "main.js": `import { RpcTarget } from "cloudflare:workers"; export default {
      echo(v) { return v; },
      callMe(cb) { return cb(20).then((r) => r + 1); },
      target() { return new (class T extends RpcTarget { ping() { return "pong"; } })(); } }` }));
    const e = vals.getEntrypoint();
    const sent = { d: new Date(0), m: new Map([[1, "a"]]), s: new Set([1]), b: 10n ** 20n, u8: new Uint8Array([1, 2]), re: /x/gi, nested: [1, [2, [3]]], err: new TypeError("bad") };
    sent.self = sent;
    const got = await e.echo(sent);
    check("Date", got.d instanceof Date && got.d.getTime() === 0);
    check("Map/Set", got.m.get(1) === "a" && got.s.has(1));
    check("BigInt", got.b === 10n ** 20n);
    check("bytes", got.u8 instanceof Uint8Array && got.u8[1] === 2);
    check("RegExp", got.re.source === "x" && got.re.flags === "gi");
    check("Error", got.err instanceof TypeError && got.err.message === "bad");
    check("cycles", got.self === got);
    check("callbacks cross by reference", await e.callMe(async (x) => x * 2) === 41);
    out.push(await amsg(e.echo(Symbol("s"))));
    out.push(await amsg(e.echo({ w: new WeakMap() })));
    out.push(await amsg(L.load(code({ "main.js": "export default { f(s) { return 1 } }" })).getEntrypoint().f(vals.getEntrypoint())));
    out.push(msg(() => L.load(code({ "main.js": "" }, { env: { X: vals.getEntrypoint() } }))));
    out.push(await e.target().then((t) => t.ping()));
    return new Response(out.join("\n") + "\n");
  },
};
