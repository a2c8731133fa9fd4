// fetch() with globalOutbound: null throws the reference's message, for
// every form of request; so does the top-level worker's fetch() when
// `corral run` lends no network. new Request() itself stays usable.
const MSG = "This worker is not permitted";
const amsg = async (p) => { try { await p; return "no error"; } catch (e) { return `${e.name}: ${e.message}`; } };
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "main.js", globalOutbound: null, modules: {
      "main.js": `export default {
        async go() {
          const out = [];
          for (const f of [() => fetch("https://example.com/"), () => fetch(new Request("http://127.0.0.1:1/", { method: "POST", body: "x" })),
                           () => fetch("http://localhost/"), () => fetch("file:///etc/passwd"), () => fetch("data:,hi")]) {
            try { await f(); out.push("fetched"); } catch (e) { out.push(e.name + ": " + e.message); }
          }
          return out;
        } }` } });
    const out = await w.getEntrypoint().go();
    out.push(await amsg(fetch("https://example.com/")));
    return new Response(out.join("\n") + "\n");
  },
};
