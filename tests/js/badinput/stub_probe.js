// A child sandbox receives a parent callback and a parent entrypoint stub
// and tries to reach the parent's globalThis through them: it learns
// nothing, cannot change the stubs, and every remote name it tries is the
// reference's missing-method error.
import { WorkerEntrypoint } from "cloudflare:workers";
globalThis.PARENT_SECRET = "s3cret";

export class Api extends WorkerEntrypoint { hello() { return "hello"; } }

const child = `
export default {
  async probe(cb, env) {
    const out = [];
    const t = (name, f) => { try { out.push(name + ": " + f()); } catch (e) { out.push(name + " threw " + e.name + ": " + e.message); } };
    const at = async (name, f) => { try { const v = await f(); out.push(name + ": " + typeof v); } catch (e) { out.push(name + " rejected " + e.name + ": " + e.message); } };
    for (const [label, s] of [["cb", cb], ["env.API", env.API]]) {
      out.push("-- " + label);
      t("typeof", () => typeof s);
      t("prototype", () => Object.getPrototypeOf(s));
      t("is a Function", () => s instanceof Function);
      t("constructor is the local Function", () => s.constructor === Function);
      t("__proto__ is Object.prototype", () => s.__proto__ === Object.prototype);
      t("then", () => s.then);
      t("own keys", () => JSON.stringify(Reflect.ownKeys(s).map(String)));
      t("source reveals the parent", () => /parentSecret|echo|PARENT_SECRET|s3cret/.test(Function.prototype.toString.call(s)));
      t("set", () => { s.x = 1; return "set"; });
      t("defineProperty", () => { Object.defineProperty(s, "y", { value: 1 }); return "defined"; });
      await at("toString()", () => s.toString());
      await at("valueOf()", () => s.valueOf());
      await at("constructor()", () => s.constructor());
      await at("__proto__()", () => s.__proto__());
      await at("hasOwnProperty()", () => s.hasOwnProperty("x"));
      await at("PARENT_SECRET()", () => s.PARENT_SECRET());
    }
    out.push("call cb: " + await cb("hi"));
    out.push("call env.API.hello: " + await env.API.hello());
    out.push("PARENT_SECRET in child: " + typeof PARENT_SECRET);
    return out.join("\\n");
  }
};`;

export default {
  async fetch(req, env, ctx) {
    const w = env.LOADER.load({
      compatibilityDate: "2025-06-01", mainModule: "c.js", modules: { "c.js": child },
      env: { API: ctx.exports.Api({}) },
    });
    const r = await w.getEntrypoint().probe(function parentSecretFn(s) { return "echo " + s; });
    const clean = globalThis.PARENT_SECRET === "s3cret" && Object.keys(Object.prototype).length === 0 &&
      Object.getPrototypeOf(globalThis) !== null;
    return new Response(r + "\nparent unchanged: " + clean + "\n");
  },
};
