// args: --var GIVEN=only-this
// The top-level worker's env holds exactly the loader and the --var given
// on the command line: nothing from the host's environment (HOME, PATH,
// USER), neither as a key nor inside any value, and ctx carries no host
// detail either.
export default {
  fetch(req, env, ctx) {
    const all = JSON.stringify({ env, keys: Reflect.ownKeys(env), ctx: Object.keys(ctx), props: ctx.props, perf: performance.toJSON(), nav: navigator.userAgent });
    return new Response(["env keys: " + JSON.stringify(Reflect.ownKeys(env).map(String)), "GIVEN: " + env.GIVEN,
      "HOME/PATH/USER: " + [env.HOME, env.PATH, env.USER].join(","), "ctx keys: " + JSON.stringify(Object.keys(ctx).sort()),
      "host paths seen: " + /\/root|\/home|\/usr\/|\/work|\/tmp/.test(all)].join("\n") + "\n");
  },
};
