// A child holding ctx.exports.Api({props}) from its parent tries to act
// with other props: calling the stub, building on it, and passing props in
// arguments never change ctx.props on the parent's side, and the child's
// own ctx.exports reaches only its own entrypoints.
import { WorkerEntrypoint } from "cloudflare:workers";
export class Api extends WorkerEntrypoint { whoami(x) { return "props " + JSON.stringify(this.ctx.props) + (x === undefined ? "" : " arg " + JSON.stringify(x)); } }
export default {
  async fetch(req, env, ctx) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, env: { API: ctx.exports.Api({ props: { user: "alice" } }) }, modules: {
      "m.js": `import { WorkerEntrypoint } from "cloudflare:workers";
      export class Own extends WorkerEntrypoint { hi() { return "own"; } }
      export default { async g(env, ctx) {
        const out = [];
        const t = async (label, fn) => { try { out.push(label + ": " + await fn()); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); } };
        await t("whoami", () => env.API.whoami());
        await t("whoami with props arg", () => env.API.whoami({ props: { user: "root" } }));
        await t("call the stub with props", () => env.API({ props: { user: "root" } }));
        await t("Object.create(API, props)", () => Object.create(env.API, { props: { value: { user: "root" } } }).whoami());
        await t("API.props", () => typeof env.API.props);
        await t("API.ctx.props", () => env.API.ctx.props);
        await t("child's ctx.exports", () => JSON.stringify(Object.keys(ctx.exports)));
        await t("child's ctx.exports.Api", () => typeof ctx.exports.Api);
        await t("child's ctx.props", () => JSON.stringify(ctx.props));
        return out.join("\\n");
      } }` } });
    return new Response(await w.getEntrypoint().g() + "\n");
  },
};
