// Tail workers (reference 1.2): each receives one trace event per
// invocation of the worker it watches, with the console lines.
import { WorkerEntrypoint } from "cloudflare:workers";

const seen = [];
export class Tail extends WorkerEntrypoint {
  tail(events) {
    for (const e of events)
      seen.push(`${this.ctx.props.name} ${e.scriptName.startsWith("load:")} ${e.outcome} ${e.event.rpcMethod} ` +
        e.logs.map((l) => `${l.level}:${l.message.join(" ")}`).join("|") +
        (e.exceptions.length ? ` ${e.exceptions[0].name}: ${e.exceptions[0].message}` : ""));
  }
}

export default {
  async fetch(request, env, ctx) {
    const child = env.LOADER.load({
      compatibilityDate: "2025-06-01", mainModule: "c.js",
      modules: { "c.js": `export default { hi(n) { console.log("hello", n); console.warn("careful"); return n; }, boom() { throw new TypeError("nope"); } }` },
      tails: [ctx.exports.Tail({ props: { name: "t1" } }), ctx.exports.Tail({ props: { name: "t2" } })],
    });
    await child.getEntrypoint().hi(1);
    try { await child.getEntrypoint().boom(); } catch (e) {}
    await new Promise((r) => setTimeout(r, 20));
    let bad;
    try { env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "c.js", modules: { "c.js": "" }, tails: [1] }); } catch (e) { bad = e.message; }
    let streaming;
    try { env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "c.js", modules: { "c.js": "" }, streamingTails: [ctx.exports.Tail()] }); } catch (e) { streaming = e.message; }
    return new Response(seen.sort().join("\n") + "\n" + bad + "\n" + streaming + "\n");
  },
};
