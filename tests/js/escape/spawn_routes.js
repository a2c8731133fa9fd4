// Every route a program might take to start a process, from the top-level
// worker and from a child: Node's child_process (global, import, require
// in CommonJS), Deno.Command, Bun.spawn, QuickJS's os.exec and std.popen,
// Workers and a new Function that reaches for `process`. All absent.
const probe = `async () => {
  const out = [];
  for (const [label, f] of [["child_process", () => child_process.spawn("id")], ["Deno.Command", () => new Deno.Command("id")],
    ["Bun.spawn", () => Bun.spawn(["id"])], ["os.exec", () => os.exec(["id"])], ["std.popen", () => std.popen("id", "r")],
    ["new Worker", () => new Worker("data:,")], ["Function('return process')", () => Function("return process")()],
    ["import('node:child_process')", () => import("node:child_process")], ["import('qjs:os')", () => import("qjs:os")]]) {
    try { await f(); out.push(label + ": reachable"); } catch (e) { out.push(label + ": " + e.name); }
  }
  return out.join(", ");
}`;
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `import cjs from "./c.cjs"; export default { async f() { return (await (${probe})()) + "\\ncjs: " + cjs.spawn(); } };`,
      "c.cjs": { cjs: `exports.spawn = () => { try { require("child_process").execSync("id"); return "reachable"; } catch (e) { return e.name + ": " + e.message; } };` },
    } });
    const mine = await (async () => {
      const out = [];
      for (const [label, f] of [["child_process", () => child_process.spawn("id")], ["Deno.Command", () => new Deno.Command("id")],
        ["Bun.spawn", () => Bun.spawn(["id"])], ["os.exec", () => os.exec(["id"])], ["std.popen", () => std.popen("id", "r")],
        ["new Worker", () => new Worker("data:,")], ["Function('return process')", () => Function("return process")()],
        ["import('node:child_process')", () => import("node:child_process")], ["import('qjs:os')", () => import("qjs:os")]]) {
        try { await f(); out.push(label + ": reachable"); } catch (e) { out.push(label + ": " + e.name); }
      }
      return out.join(", ");
    })();
    return new Response("top level: " + mine + "\nchild: " + await w.getEntrypoint().f() + "\n");
  },
};
