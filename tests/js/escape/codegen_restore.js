// Code that tries to get the real Function constructor back — deleting the
// blocked one, walking prototypes, reading property descriptors, finding a
// constructor on a built-in's method — still only gets the blocked one.
export default {
  fetch() {
    const out = [];
    const t = (label, fn) => { try { out.push(label + ": returned " + fn()); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); } };
    t("delete Function.prototype.constructor", () => delete Function.prototype.constructor);
    t("redefine constructor", () => Object.defineProperty(Function.prototype, "constructor", { value: 1 }));
    t("descriptor", () => JSON.stringify(Object.getOwnPropertyDescriptor(Function.prototype, "constructor"), (k, v) => typeof v === "function" ? v.name : v));
    t("delete globalThis.Function then reread", () => { delete globalThis.Function; return typeof Function; });
    t("Array.prototype.map.constructor", () => Array.prototype.map.constructor("return 1")());
    t("Promise.constructor.constructor", () => Promise.constructor.constructor("return 1")());
    t("Symbol.constructor", () => Object.getPrototypeOf(Symbol).constructor("return 1")());
    t("async arrow", () => Object.getPrototypeOf(async () => {}).constructor("return 1"));
    t("async gen method", () => Object.getPrototypeOf({ async *m() {} }.m).constructor("yield 1"));
    t("console.log.constructor", () => console.log.constructor("return 1")());
    t("fetch.constructor", () => fetch.constructor("return 1")());
    t("setTimeout callback string after toString", () => setTimeout({ toString() { return "1"; } }, 0));
    return new Response(out.join("\n") + "\n");
  },
};
