// args: --memory-mb 16
// Typed arrays longer than QuickJS allows (2**31 bytes and up) are refused
// up front with a catchable RangeError, before anything is allocated, so
// the sandbox lives on.
export default {
  fetch() {
    const out = [];
    for (const [label, f] of [["Uint8Array(2**31)", () => new Uint8Array(2 ** 31)], ["Float64Array(2**28)", () => new Float64Array(2 ** 28)],
      ["ArrayBuffer(2**32)", () => new ArrayBuffer(2 ** 32)], ["Uint8Array(-1)", () => new Uint8Array(-1)]]) {
      try { out.push(label + ": length " + f().length); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); }
    }
    out.push("survived");
    return new Response(out.join("\n") + "\n");
  },
};
