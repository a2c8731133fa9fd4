// Many get() ids: each id has its own sandbox and module state, getCode
// runs once per id while the sandbox is cached, and a state change under
// one id is never visible under another.
export default {
  async fetch(req, env) {
    let codeCalls = 0;
    const code = () => { codeCalls++; return { compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null,
      modules: { "m.js": "let n = 0; globalThis.seen = globalThis.seen || []; export default { bump(id) { seen.push(id); return ++n + ':' + seen.length; } };" } }; };
    const N = 300;
    const first = [];
    for (let i = 0; i < N; i++) first.push(await env.LOADER.get("id-" + i, code).getEntrypoint().bump("id-" + i));
    const afterFirst = codeCalls;
    const again = await env.LOADER.get("id-0", code).getEntrypoint().bump("id-0");
    const other = await env.LOADER.get("id-" + (N - 1), code).getEntrypoint().bump("x");
    const fresh = await env.LOADER.get(null, code).getEntrypoint().bump("anon");
    const out = ["first calls all 1:1: " + first.every((r) => r === "1:1"), "getCode calls: " + afterFirst,
      "id-0 again: " + again, "last id again: " + other, "anonymous: " + fresh, "getCode calls after: " + codeCalls];
    return new Response(out.join("\n") + "\n");
  },
};
