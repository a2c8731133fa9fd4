// A child cannot change a parent entrypoint stub or callback in any way:
// set, define, delete, setPrototypeOf, preventExtensions and freeze all
// throw or report failure, and the stub still works afterwards.
import { WorkerEntrypoint } from "cloudflare:workers";
export class Api extends WorkerEntrypoint { ping() { return "pong"; } }
export default {
  async fetch(req, env, ctx) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, env: { API: ctx.exports.Api({}) }, modules: {
      "m.js": `"use strict"; export default { async f(cb, env) {
        const out = [];
        for (const [label, s] of [["cb", cb], ["API", env.API]]) {
          for (const [op, fn] of [["set", () => { s.ping = () => "hijacked"; }], ["define", () => Object.defineProperty(s, "ping", { value: 1 })],
            ["delete", () => delete s.ping], ["setPrototypeOf", () => Object.setPrototypeOf(s, { ping() { return "hijacked"; } })],
            ["__proto__ =", () => { s.__proto__ = {}; }], ["preventExtensions", () => Object.preventExtensions(s)],
            ["freeze", () => Object.freeze(s)], ["Reflect.set", () => Reflect.set(s, "x", 1)], ["Reflect.deleteProperty", () => Reflect.deleteProperty(s, "ping")]]) {
            try { const r = fn(); out.push(label + " " + op + ": returned " + (r === s ? "the stub" : r)); } catch (e) { out.push(label + " " + op + ": " + e.name + ": " + e.message); }
          }
        }
        out.push("after: " + await env.API.ping() + " " + await cb());
        return out.join("\\n");
      } }` } });
    return new Response(await w.getEntrypoint().f(() => "cb ok") + "\n");
  },
};
