// A child looking for the host's process, environment and arguments finds
// nothing: every name is undefined, its env holds exactly what the parent
// passed, and its ctx reveals no host detail.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null,
      env: { GIVEN: "only this" }, modules: {
      "m.js": `export default { f(a, env, ctx) { return this.g(env, ctx); }, g(env, ctx) {
        const out = [];
        for (const [k, f] of [["process.env.HOME", () => process.env.HOME], ["process.argv", () => process.argv],
          ["Deno.env.get", () => Deno.env.get("HOME")], ["Bun.env", () => Bun.env], ["os.exec", () => os.exec(["id"])],
          ["std.getenv", () => std.getenv("PATH")], ["scriptArgs", () => scriptArgs], ["require", () => require("child_process")],
          ["globalThis.process", () => globalThis.process.pid], ["Buffer", () => Buffer.from("x")]]) {
          try { out.push(k + ": reachable " + f()); } catch (e) { out.push(k + ": " + e.name + ": " + e.message); }
        }
        out.push("env keys: " + JSON.stringify(Reflect.ownKeys(env)));
        out.push("env: " + JSON.stringify(env));
        return out.join("\\n");
      } }` } });
    const r = await w.getEntrypoint().g();
    return new Response(r + "\nparent env keys: " + JSON.stringify(Reflect.ownKeys(env)) + "\n");
  },
};
