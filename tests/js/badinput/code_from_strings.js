// Code generation from strings is disallowed, as in Workers: every
// Function constructor throws EvalError.
const t = (label, f) => { try { return `${label}: returned ${f()}`; } catch (e) { return `${label}: ${e.name}: ${e.message}`; } };
export default {
  fetch() {
    const out = [
      t("new Function", () => new Function("return 1")()),
      t("Function()", () => Function("return 1")()),
      t("AsyncFunction", () => Object.getPrototypeOf(async function () {}).constructor("return 1")),
      t("GeneratorFunction", () => Object.getPrototypeOf(function* () {}).constructor("yield 1")),
      t("AsyncGeneratorFunction", () => Object.getPrototypeOf(async function* () {}).constructor("yield 1")),
      t("constructor.constructor", () => (() => {}).constructor.constructor("return globalThis")()),
    ];
    return new Response(out.join("\n") + "\n");
  },
};
