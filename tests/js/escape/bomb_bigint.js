// args: --cpu-ms 200
// BigInts past QuickJS's size limit are refused up front with a catchable
// RangeError, however they are asked for (shift, power, parsing a huge
// literal string), and the sandbox lives on.
export default {
  fetch() {
    const out = [];
    for (const [label, f] of [["1n << 2n**40n", () => 1n << (2n ** 40n)], ["2n ** 2n**32n", () => 2n ** (2n ** 32n)],
      ["BigInt('9'.repeat(1e7))", () => BigInt("9".repeat(1e7))], ["BigInt.asUintN(2**53-1, -1n)", () => BigInt.asUintN(2 ** 53 - 1, -1n)]]) {
      try { const v = f(); out.push(label + ": " + (typeof v === "bigint" ? v.toString(16).length + " hex digits" : v)); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); }
    }
    out.push("survived");
    return new Response(out.join("\n") + "\n");
  },
};
