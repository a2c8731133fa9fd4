// eval exists, as in Workers, and throws EvalError, directly and indirectly.
const t = (label, f) => { try { return `${label}: returned ${f()}`; } catch (e) { return `${label}: ${e.name}: ${e.message}`; } };
export default {
  fetch() {
    const out = [
      "typeof eval: " + typeof eval,
      t("eval", () => eval("1")),
      t("indirect eval", () => (0, eval)("1")),
      t("globalThis.eval", () => globalThis.eval("1")),
    ];
    return new Response(out.join("\n") + "\n");
  },
};
