// args: --memory-mb 16
// "x".repeat(2**30) and "".padStart(2**30) ask for a gigabyte string:
// QuickJS refuses the length up front with a catchable RangeError or
// InternalError, and nothing is allocated.
export default {
  fetch() {
    const out = [];
    for (const [label, f] of [["repeat 2**30", () => "x".repeat(2 ** 30)], ["padStart 2**30", () => "".padStart(2 ** 30, "ab")],
      ["padEnd 2**31", () => "".padEnd(2 ** 31)], ["repeat Infinity", () => "x".repeat(Infinity)], ["repeat 2**28 x 8", () => "abcdefgh".repeat(2 ** 28)]]) {
      try { out.push(label + ": length " + f().length); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
